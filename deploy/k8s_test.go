package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestARCPodSpec validates deploy/k8s/arc-runner-pod.yaml against the
// Kubernetes Pod type (strict: a misspelt or unknown field is an error) and
// checks the rules the document states: awf's capability set exactly,
// everything else dropped, RuntimeDefault seccomp, not privileged,
// escalation allowed only because awf uses sudo, awf on PATH from the
// image volume.
func TestARCPodSpec(t *testing.T) {
	b, err := os.ReadFile("k8s/arc-runner-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("not a valid core/v1 Pod: %v", err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" || len(pod.Spec.Containers) != 1 {
		t.Fatalf("kind %q apiVersion %q containers %d", pod.Kind, pod.APIVersion, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || sc.SeccompProfile == nil {
		t.Fatal("runner container lacks securityContext, capabilities or seccompProfile")
	}
	var add []string
	for _, a := range sc.Capabilities.Add {
		add = append(add, string(a))
	}
	want := slices.Clone(ContainerCaps)
	slices.Sort(add)
	slices.Sort(want)
	if !slices.Equal(add, want) {
		t.Errorf("capabilities.add %v, want awf's set %v", add, want)
	}
	if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("capabilities.drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	if sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %v", sc.SeccompProfile.Type)
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("runner must be explicitly unprivileged")
	}
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		t.Error("awf re-runs itself through sudo: no_new_privs (allowPrivilegeEscalation: false) would break it")
	}
	var vol *corev1.Volume
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == "awf-bin" {
			vol = &pod.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Image == nil || vol.Image.Reference == "" {
		t.Fatal("awf-bin must be an image volume of the awf image")
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == "awf-bin" && m.MountPath == "/opt/awf" && m.ReadOnly)
	}
	if !mounted {
		t.Error("awf image not mounted read-only at /opt/awf")
	}
}

// TestARCPodSpecValidationCanFail: the strict decoding refuses a misspelt
// field, so TestARCPodSpec is a real check.
func TestARCPodSpecValidationCanFail(t *testing.T) {
	b, err := os.ReadFile("k8s/arc-runner-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Replace(string(b), "seccompProfile:", "seccompProfil:", 1))
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(bad, &pod); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
}

package selftest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSeccompParentFilterIsStackedNotRefused(t *testing.T) {
	for _, tc := range []struct {
		mode     int
		err      error
		fail     bool
		degraded bool
	}{
		{0, nil, false, false},
		{2, nil, false, true}, // Docker's default profile
		{1, nil, true, false},
		{0, errors.New("EINVAL"), true, false},
	} {
		c := seccompCheck(tc.mode, tc.err)
		if (c.Err != nil) != tc.fail || (c.Degraded != "") != tc.degraded {
			t.Errorf("mode %d err %v: got %+v", tc.mode, tc.err, c)
		}
	}
	var b bytes.Buffer
	if !Print(&b, []Check{seccompCheck(2, nil)}) || !strings.Contains(b.String(), "degraded: awf already runs under a seccomp filter") {
		t.Fatalf("a degradation must pass and be printed: %q", b.String())
	}
}

func TestOverlayRefusedIsADegradation(t *testing.T) {
	for _, tc := range []struct {
		probe    error
		forced   bool
		degraded string
	}{
		{nil, false, ""},
		{errors.New("mount overlay (lower /usr/local/bin): invalid argument"), false, "overlay mounts refused here (mount overlay (lower /usr/local/bin): invalid argument)"},
		{errors.New("operation not permitted"), false, "read-only bind mounts"},
		{nil, true, "AWF_TEST_NO_OVERLAY=1"},
	} {
		c := overlayCheck(tc.probe, tc.forced)
		if c.Err != nil || (tc.degraded == "") != (c.Degraded == "") || !strings.Contains(c.Degraded, tc.degraded) {
			t.Errorf("probe %v forced %v: %+v", tc.probe, tc.forced, c)
		}
	}
	var b bytes.Buffer
	if !Print(&b, []Check{overlayCheck(errors.New("EPERM"), false)}) || !strings.Contains(b.String(), "! overlayfs (tool dirs, /usr/local/bin helpers): degraded: ") {
		t.Fatalf("a degradation must pass and be printed: %q", b.String())
	}
}

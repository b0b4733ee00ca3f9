package clients

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

const prompt = "'Say hello and give the answer.'"

func cliCases() []clientCase {
	return []clientCase{
		{name: "cli/claude-code", prov: anthropic, stream: true, wantGen: "/v1/messages",
			cmd: "timeout 120 claude -p " + prompt + " --output-format text"},
		{name: "cli/codex", prov: openAI, stream: true, wantGen: "/responses", wantWS: true,
			cmd:        "timeout 120 codex exec --skip-git-repo-check " + prompt,
			workaround: []string{openAIKeyGap, codexBaseGap}},
		// A server without the WebSocket mode: codex falls back to SSE.
		{name: "cli/codex-sse", prov: openAI, stream: true, wantGen: "/responses", noWebSocket: true,
			cmd:        "timeout 120 codex exec --skip-git-repo-check " + prompt,
			workaround: []string{openAIKeyGap, codexBaseGap}},
		{name: "cli/gemini", prov: gemini, stream: true, wantGen: ":streamGenerateContent",
			cmd:        "timeout 120 gemini --skip-trust -p " + prompt,
			workaround: []string{geminiBaseGap, geminiAuthGap}},
		// BYOK needs a model named by the user: a setting, not a gap.
		{name: "cli/copilot", prov: copilot, stream: true, wantGen: "/chat/completions",
			cmd: "timeout 120 copilot -p " + prompt, env: []string{"COPILOT_MODEL=gpt-4.1"}},
		{name: "cli/copilot-responses", prov: copilot, stream: true, wantGen: "/responses",
			cmd: "timeout 120 copilot -p " + prompt, env: []string{"COPILOT_MODEL=gpt-5", "COPILOT_PROVIDER_WIRE_API=responses"}},
		{name: "cli/copilot-responses-ws", prov: copilot, stream: true, wantGen: "/responses", wantWS: true,
			cmd: "timeout 120 copilot -p " + prompt, env: []string{"COPILOT_MODEL=gpt-5", "COPILOT_PROVIDER_WIRE_API=responses",
				"COPILOT_PROVIDER_TRANSPORT=websockets"}},
	}
}

func TestCLIs(t *testing.T) {
	requireClients(t)
	for _, c := range cliCases() {
		t.Run(c.name, func(t *testing.T) {
			r := runClient(t, c)
			r.check(t, c)
		})
	}
}

// privateHome puts a fresh tmpfs over /root for one run: awf binds the
// CLIs' config dirs from the host home, and they must start clean and
// leave nothing on the machine. The test's mount namespace is private.
func privateHome(t *testing.T) {
	t.Helper()
	if err := unix.Mount("tmpfs", "/root", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	os.Chmod("/root", 0o755)
	t.Cleanup(func() { unix.Unmount("/root", unix.MNT_DETACH) })
}

package clients

import (
	"testing"

	"golang.org/x/sys/unix"
)

const prompt = "'Say hello and give the answer.'"

func cliCases() []clientCase {
	return []clientCase{
		{name: "cli/claude-code", prov: anthropic, stream: true, wantGen: "/v1/messages",
			cmd: "timeout 120 claude -p " + prompt + " --output-format text"},
		{name: "cli/codex", prov: openAI, stream: true, wantGen: "/responses", wantWS: true,
			cmd: "timeout 120 codex exec --skip-git-repo-check " + prompt},
		// A server without the WebSocket mode: codex falls back to SSE.
		{name: "cli/codex-sse", prov: openAI, stream: true, wantGen: "/responses", noWebSocket: true,
			cmd: "timeout 120 codex exec --skip-git-repo-check " + prompt},
		{name: "cli/gemini", prov: gemini, stream: true, wantGen: ":streamGenerateContent",
			cmd: "timeout 120 gemini --skip-trust -p " + prompt},
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

// privateHome puts a fresh tmpfs over /root (awf's home here, the test's
// mount namespace being private) for one run: the clients start clean and
// leave nothing on the machine. It belongs to the sandbox user, so awf
// creates and binds the tool dirs (~/.claude, ~/.copilot, ~/.cache, ...)
// from it as it would from a user's home, and the test can read what the
// clients stored there.
func privateHome(t *testing.T) {
	t.Helper()
	if err := unix.Mount("tmpfs", "/root", "tmpfs", 0, "mode=0755,uid=1000,gid=1000"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount("/root", unix.MNT_DETACH) })
}

// Package helpers holds what awf puts inside the sandbox besides the
// command: the get-claude-key.sh script, the Claude Code settings that
// point at it, and the pre-flight check run before the command starts.
package helpers

import (
	"bytes"
	"encoding/json"
	"path/filepath"

	"github.com/awf-dev/awf/internal/agentenv"
)

// GetClaudeKeyPath is where the script is installed in the sandbox.
const GetClaudeKeyPath = agentenv.ClaudeKeyHelperPath

// GetClaudeKeyMode is the script's file mode.
const GetClaudeKeyMode = 0o755

// GetClaudeKeyScript is the text of get-claude-key.sh. Claude Code runs it
// as its apiKeyHelper and sends the output as the key; the API proxy
// replaces it with the real one, so the placeholder is all it ever sees.
func GetClaudeKeyScript() string {
	return "#!/bin/sh\n" +
		"# get-claude-key.sh, installed by awf as Claude Code's apiKeyHelper.\n" +
		"# The real key never enters this sandbox: awf's API proxy at\n" +
		"# ANTHROPIC_BASE_URL replaces this placeholder on every request.\n" +
		"printf '%s\\n' '" + agentenv.AnthropicPlaceholder + "'\n"
}

// ClaudeSettingsFiles are the files Claude Code reads its apiKeyHelper
// from, under the command's home directory.
func ClaudeSettingsFiles(home string) []string {
	return []string{
		filepath.Join(home, ".claude.json"),
		filepath.Join(home, ".claude", "settings.json"),
	}
}

// MergeClaudeSettings sets "apiKeyHelper" in a Claude settings file's
// content, keeping every other field as it was. Empty content starts a new
// object; content that is not a JSON object is replaced (replaced reports
// that), as the original did when its merge failed.
func MergeClaudeSettings(existing []byte, helperPath string) (out []byte, replaced bool, err error) {
	obj := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(existing)) > 0 {
		if json.Unmarshal(existing, &obj) != nil || obj == nil {
			obj, replaced = map[string]json.RawMessage{}, true
		}
	}
	v, err := json.Marshal(helperPath)
	if err != nil {
		return nil, false, err
	}
	obj["apiKeyHelper"] = v
	out, err = json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return nil, false, err
	}
	return append(out, '\n'), replaced, nil
}

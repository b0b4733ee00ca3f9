package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/awf-dev/awf/internal/guards"
)

// Budget is the api-proxy's guard state at the end of a run (guards.json
// beside token-usage.jsonl): spend against each budget, requests refused
// per guard and the guard that stopped the run.
type Budget = guards.Snapshot

// LoadBudget reads dir/guards.json; nil when there is none.
func LoadBudget(dir string) *Budget {
	b, err := os.ReadFile(filepath.Join(dir, guards.StateFile))
	if err != nil {
		return nil
	}
	var s Budget
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

// budgetWorthShowing reports whether the run had a budget or was stopped by a guard,
// i.e. whether there is anything worth printing.
func budgetWorthShowing(b *Budget) bool {
	return b != nil && (b.MaxAICredits > 0 || b.MaxEffectiveTokens > 0 || b.MaxRuns > 0 || b.MaxCacheMisses > 0 ||
		b.MaxPermissionDenied > 0 || b.StoppedBy != nil || len(b.Blocked) > 0)
}

// BudgetLines are the "used / limit" lines for the end of a run (nil when
// no guard was configured and none fired).
func BudgetLines(dir string) []string {
	b := LoadBudget(dir)
	if !budgetWorthShowing(b) {
		return nil
	}
	return b.Lines()
}

func budgetMarkdown(b *Budget) string {
	l := []string{"<details>", "<summary>LLM Budgets</summary>\n", "| Budget | Used | Limit |", "|--------|------|-------|"}
	for _, line := range b.Lines() {
		name, rest, ok := strings.Cut(line, ": ")
		used, limit, ok2 := strings.Cut(rest, " / ")
		if !ok || !ok2 || strings.HasPrefix(line, "Stopped by") {
			continue
		}
		l = append(l, fmt.Sprintf("| %s | %s | %s |", name, used, limit))
	}
	if b.StoppedBy != nil {
		l = append(l, "", fmt.Sprintf("🛑 Stopped by guard `%s`: %s", b.StoppedBy.Rule, mdEscape(b.StoppedBy.Message)))
		var rules []string
		for r, n := range b.Blocked {
			rules = append(rules, fmt.Sprintf("`%s` %d", r, n))
		}
		sort.Strings(rules)
		l = append(l, "", "Requests refused: "+strings.Join(rules, ", "))
	}
	if len(b.ByModel) > 0 {
		models := make([]string, 0, len(b.ByModel))
		for m := range b.ByModel {
			models = append(models, m)
		}
		sort.Strings(models)
		l = append(l, "", "| Model | Calls | AI credits | Pricing |", "|-------|-------|------------|---------|")
		for _, m := range models {
			mc := b.ByModel[m]
			l = append(l, fmt.Sprintf("| %s | %d | %.4f | %s |", mdEscape(m), mc.Calls, mc.Credits, mc.PricingSource))
		}
	}
	l = append(l, "", "Pricing table "+b.PricingVersion+".", "\n</details>\n")
	return strings.Join(l, "\n")
}

package hostaccess

import (
	"strings"
	"testing"
)

// --allow-host-service-ports logs one debug line per port, as the
// original's firewall setup does ("Allow host service port N"), after the
// summary line; none without service ports.
func TestServicePortNotices(t *testing.T) {
	for _, tc := range []struct {
		ports string
		want  []string
	}{
		{"5432,6379,3306", []string{
			"info Host service ports allowed (host gateway only): 5432,6379,3306",
			"debug Allow host service port 5432 to " + Name + " (host gateway only)",
			"debug Allow host service port 6379 to " + Name + " (host gateway only)",
			"debug Allow host service port 3306 to " + Name + " (host gateway only)",
		}},
		{"", nil},
	} {
		_, notes, err := Build(Options{ServicePorts: tc.ports, AllowDomains: []string{"github.com"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range notes {
			if strings.Contains(n.Msg, "service port") {
				got = append(got, n.Level+" "+n.Msg)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("ports %q: notices\n%s\nwant\n%s", tc.ports, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

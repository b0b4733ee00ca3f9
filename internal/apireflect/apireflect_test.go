package apireflect

import (
	"encoding/json"
	"net/netip"
	"testing"
)

// The original's /reflect shape (containers/api-proxy/management.js and
// adapter-factory.js), as gh-aw's awf_reflect_summary.cjs reads it.
func TestDocumentShape(t *testing.T) {
	doc := Document([]Provider{
		{Name: "openai", Port: 10000},
		{Name: "copilot", Port: 10002, Configured: true, BasePath: "/enterprise"},
		{Name: "gemini", Port: 10003},
		{Name: "custom", Port: 10009},
	}, map[string]any{"runs": map[string]any{"enabled": false}, "endpoints": "ignored"})
	b, _ := json.Marshal(doc)
	var d map[string]json.RawMessage
	json.Unmarshal(b, &d)
	want := `[{"provider":"openai","port":10000,"base_url":"http://api-proxy:10000","configured":false,"models":null,"model_metadata":null,"models_url":"http://api-proxy:10000/v1/models"},` +
		`{"provider":"copilot","port":10002,"base_url":"http://api-proxy:10002","configured":true,"models":null,"model_metadata":null,"models_url":"http://api-proxy:10002/enterprise/models"},` +
		`{"provider":"gemini","port":10003,"base_url":"http://api-proxy:10003","configured":false,"models":null,"model_metadata":null,"models_url":"http://api-proxy:10003/v1beta/models"},` +
		`{"provider":"custom","port":10009,"base_url":"http://api-proxy:10009","configured":false,"models":null,"model_metadata":null,"models_url":null}]`
	if string(d["endpoints"]) != want {
		t.Errorf("endpoints:\n%s\nwant\n%s", d["endpoints"], want)
	}
	if string(d["models_fetch_complete"]) != "true" || string(d["model_aliases"]) != "null" || string(d["runs"]) != `{"enabled":false}` {
		t.Errorf("document: %s", b)
	}
}

func TestHostsEntry(t *testing.T) {
	ip := netip.MustParseAddr("172.30.0.30")
	if got := HostsEntry(true, ip); got != "\n172.30.0.30\tapi-proxy\n" {
		t.Errorf("%q", got)
	}
	if HostsEntry(false, ip) != "" || HostsEntry(true, netip.Addr{}) != "" {
		t.Error("entry without the api-proxy")
	}
}

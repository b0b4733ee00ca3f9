package guards

import (
	"encoding/json"
	"testing"
)

func TestModelFieldsEdgeCases(t *testing.T) {
	for _, tt := range []struct {
		body, last string
		all        []string
	}{
		{`{"model":"a","model":"b"}`, "b", []string{"a", "b"}}, // duplicates: JSON.parse keeps the last
		{`{"mod\u0065l":"esc"}`, "esc", []string{"esc"}},       // an escaped key is the same key
		{`{"x":"\"model\":\"no\"","model":"yes"}`, "yes", []string{"yes"}},
		{`{"x":{"model":"inner"},"y":[{"model":"inner"}],"z":null,"n":-1.5e3,"model":"top"}`, "top", []string{"top"}},
		{`{"model":"a","model":5}`, "", []string{"a"}}, // the last is not a string
		{` { "model" : "sp" } `, "sp", []string{"sp"}},
		{`{"model":"x\"y"}`, `x"y`, []string{`x"y`}},
		{`{}`, "", nil},
		{`{"model":"a"`, "", nil}, // truncated
		{`["model","a"]`, "", nil},
	} {
		if got := ModelFromBody([]byte(tt.body)); got != tt.last {
			t.Errorf("ModelFromBody(%s) = %q, want %q", tt.body, got, tt.last)
		}
		if got := ModelsFromBody([]byte(tt.body)); len(got) != len(tt.all) || (len(got) > 0 && got[0] != tt.all[0]) {
			t.Errorf("ModelsFromBody(%s) = %q, want %q", tt.body, got, tt.all)
		}
	}
	out, ok := ReplaceModel([]byte(`{"model":"a","m":1,"model":"b"}`), "c")
	if !ok || string(out) != `{"model":"c","m":1,"model":"c"}` {
		t.Fatalf("%s", out)
	}
}

// FuzzModelFromBody: on any valid JSON object the scanner finds the model
// encoding/json finds (which, like JSON.parse, keeps the last duplicate).
func FuzzModelFromBody(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-5"}`, `{"a":[1,{"model":"x"}],"model":"y"}`, `{"model":"a","model":"b"}`,
		`{"model":null}`, `{"s":"\\\"","model":"\u00e9"}`, `{"model":{"x":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || m == nil {
			return
		}
		var want string
		json.Unmarshal(m["model"], &want)
		if got := ModelFromBody(b); got != want {
			t.Fatalf("%q: got %q, encoding/json %q", b, got, want)
		}
	})
}

package config

import (
	"errors"
	"strings"
	"testing"
)

// TestSSLBumpAndAllowURLs: the flags and the config key are real, with the
// original's checks and messages.
func TestSSLBumpAndAllowURLs(t *testing.T) {
	c, warns, err := buildArgv(t, []string{"--ssl-bump", "--allow-urls", "https://github.com/org/*, https://api.github.com/repos/*", "--", "true"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Inspect.SSLBump || strings.Join(c.Inspect.AllowURLs, " ") != "https://github.com/org/* https://api.github.com/repos/*" {
		t.Errorf("inspect %+v", c.Inspect)
	}
	if msgs := warnText(warns); !strings.Contains(msgs, "SSL Bump intercepts HTTPS traffic. Only use for trusted workloads.") {
		t.Errorf("no warning:\n%s", msgs)
	}
	c, _, err = buildArgv(t, []string{"--config", "/c/bump.json", "--", "true"}, map[string]string{"/c/bump.json": `{"security":{"sslBump":true}}`}, nil)
	if err != nil || !c.Inspect.SSLBump {
		t.Errorf("security.sslBump: %v %+v", err, c)
	}
	c, _, err = buildArgv(t, []string{"--config", "/c/urls.json", "--", "true"},
		map[string]string{"/c/urls.json": `{"security":{"sslBump":true,"allowUrls":["https://github.com/org/*","https://api.github.com/repos/*"]}}`}, nil)
	if err != nil || strings.Join(c.Inspect.AllowURLs, " ") != "https://github.com/org/* https://api.github.com/repos/*" {
		t.Errorf("security.allowUrls: %v %+v", err, c.Inspect)
	}
	_, _, err = buildArgv(t, []string{"--config", "/c/nobump.json", "--", "true"},
		map[string]string{"/c/nobump.json": `{"security":{"allowUrls":["https://github.com/org/*"]}}`}, nil)
	if err == nil || !strings.Contains(err.Error(), "--allow-urls requires --ssl-bump to be enabled") {
		t.Errorf("allowUrls without sslBump: %v", err)
	}
	c, warns, err = buildArgv(t, []string{"--", "true"}, nil, nil)
	if err != nil || c.Inspect.SSLBump || strings.Contains(warnText(warns), "SSL Bump") {
		t.Errorf("default: %v %+v", err, c.Inspect)
	}
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"--allow-urls", "https://github.com/org/*"}, "--allow-urls requires --ssl-bump to be enabled"},
		{[]string{"--ssl-bump", "--allow-urls", "http://github.com/org/*"}, "URL patterns must start with https:// (got: http://github.com/org/*)\nUse --allow-domains for domain-level filtering without SSL Bump"},
		{[]string{"--ssl-bump", "--allow-urls", "https://*"}, `URL pattern "https://*" is too broad and would bypass security controls`},
		{[]string{"--ssl-bump", "--allow-urls", "https://github.com"}, `URL pattern "https://github.com" must include a path component`},
	} {
		_, _, err := buildArgv(t, append(tc.argv, "--", "true"), nil, nil)
		var ce *Error
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ce) {
			t.Errorf("%v: %v, want %q", tc.argv, err, tc.want)
		}
	}
}

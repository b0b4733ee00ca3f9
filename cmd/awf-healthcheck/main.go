// Command awf-healthcheck is the images' stand-in for the two commands the
// original's Compose healthchecks run, so those healthchecks work unchanged
// in images that have no shell and no distribution:
//
//	curl -f http://localhost:10000/health   (api-proxy)
//	nc -z localhost 3128                    (egress proxy / Squid)
//
// It is installed as /usr/bin/curl and /usr/bin/nc and decides by its name.
// Only these forms are supported; anything else exits 2 and says so. It
// uses plain sockets (no net/http) to stay small.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const timeout = 3 * time.Second

func main() { os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:])) }

func run(name string, args []string) int {
	switch name {
	case "nc":
		if len(args) == 3 && args[0] == "-z" {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(args[1], args[2]), timeout)
			if err != nil {
				return 1
			}
			c.Close()
			return 0
		}
	case "curl":
		var u string
		for _, a := range args {
			switch {
			case a == "-f" || a == "-s" || a == "-sf" || a == "-fs":
			case strings.HasPrefix(a, "http://"):
				u = a
			default:
				u = ""
			}
		}
		if u != "" {
			return get(u)
		}
	}
	fmt.Fprintf(os.Stderr, "%s (awf-healthcheck): only `curl -f http://HOST:PORT/PATH` and `nc -z HOST PORT` are supported\n", name)
	return 2
}

// get does one HTTP/1.0 GET and succeeds on a 2xx status, as curl -f.
func get(raw string) int {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return 2
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	c, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 7 // curl: failed to connect
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	p := u.RequestURI()
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: awf-healthcheck\r\n\r\n", p, u.Host)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 56
	}
	f := strings.Fields(line)
	if len(f) < 2 || len(f[1]) != 3 || f[1][0] != '2' {
		fmt.Fprintf(os.Stderr, "curl: (22) The requested URL returned error: %s", strings.TrimSpace(line))
		return 22
	}
	return 0
}

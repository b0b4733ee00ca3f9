// Command hostprobe is run inside the sandbox by the host-access tests:
// a WebSocket round trip (through HTTP(S)_PROXY unless NO_PROXY says
// otherwise), a TCP echo, and a counted server-sent-event stream. It
// prints one line, "ok ..." or "fail <error>".
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
)

func main() {
	out, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Printf("fail %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("ok %s\n", out)
}

func run(cmd string, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	switch cmd {
	case "ws": // ws url: send three messages, expect each echoed
		c, _, err := websocket.Dial(ctx, args[0], &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}})
		if err != nil {
			return "", err
		}
		defer c.CloseNow()
		for i := range 3 {
			msg := fmt.Sprintf("ping-%d", i)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return "", err
			}
			_, b, err := c.Read(ctx)
			if err != nil {
				return "", err
			}
			if string(b) != "echo "+msg {
				return "", fmt.Errorf("got %q", b)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		return "ws 3 echoes", nil
	case "echo": // echo addr msg: TCP round trip
		c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, args[1]+"\n"); err != nil {
			return "", err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "", err
		}
		return "echo " + strings.TrimSpace(line), nil
	case "sse": // sse url: count events until the stream ends
		resp, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}).Get(args[0])
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		t0 := time.Now()
		n, gaps := 0, time.Duration(0)
		last := t0
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") {
				n++
				gaps = max(gaps, time.Since(last))
				last = time.Now()
			}
		}
		return fmt.Sprintf("sse %d events in %.0fs maxgap %dms", n, time.Since(t0).Seconds(), gaps.Milliseconds()), sc.Err()
	}
	return "", fmt.Errorf("unknown command %q", cmd)
}

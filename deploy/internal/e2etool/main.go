// Command e2etool plays the parts of the deploy tests inside containers
// that have no shell: the fake LLM upstream (TLS with a test CA), the
// agent's client, a direct-egress probe and an environment dump.
//
//	e2etool serve CERT KEY ADDR   fake OpenAI upstream; logs each request's Authorization
//	e2etool call URL              POST a chat completion with a placeholder key, print status and body
//	e2etool dial ADDR             try a direct TCP connection, print "open" or the error
//	e2etool env                   print the environment
//	e2etool idle                  wait for SIGTERM
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: e2etool serve|call|dial|env|idle ...")
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2], os.Args[3], os.Args[4])
	case "call":
		call(os.Args[2])
	case "dial":
		c, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		c.Close()
		fmt.Println("open")
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
	case "idle":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
	}
}

func serve(certFile, keyFile, addr string) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		log.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// The test reads this line from the container's log: the key the
		// sidecar injected. It is never sent back to the caller.
		fmt.Printf("upstream-request path=%s host=%s authorization=%q\n", r.URL.Path, r.Host, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hello from the fake upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`)
	})
	srv := &http.Server{Addr: addr, Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Println("upstream listening on", addr)
	if err := srv.ListenAndServeTLS("", ""); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func call(url string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-placeholder-for-api-proxy")
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("status %d\n%s\n", resp.StatusCode, b)
}

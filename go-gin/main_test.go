// run(): flags and settings errors, the listen error, lazy database startup and graceful shutdown.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects run's output and hands over the listening address once printed.
type lockedBuffer struct {
	mu   sync.Mutex
	buf  strings.Builder
	addr chan string
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{addr: make(chan string, 1)} }

var listeningLine = regexp.MustCompile(`listening on http://(\S+)`)

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if m := listeningLine.FindStringSubmatch(string(p)); m != nil {
		select {
		case b.addr <- m[1]:
		default:
		}
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type runningServer struct {
	base   string
	stop   context.CancelFunc
	done   chan error
	stdout *lockedBuffer
}

func startRun(t *testing.T, env map[string]string, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{stop: cancel, done: make(chan error, 1), stdout: newLockedBuffer()}
	started := time.Now()
	go func() { s.done <- run(ctx, envOf(env), append([]string{"-port", "0"}, args...), s.stdout, io.Discard) }()
	select {
	case addr := <-s.stdout.addr:
		s.base = "http://" + addr
	case err := <-s.done:
		cancel()
		t.Fatalf("run returned %v before listening", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("run did not start listening within 5s")
	}
	if d := time.Since(started); d > time.Second {
		t.Errorf("startup took %v", d)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	return s
}

func (s *runningServer) shutdown(t *testing.T) error {
	t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // let the cleanup see it too
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRunRejectsBadInput(t *testing.T) {
	good := map[string]string{"DATABASE_URL": "postgresql://app@127.0.0.1:1/postgres"}
	tests := []struct {
		env   map[string]string
		args  []string
		want  string
		usage bool
	}{
		{map[string]string{}, nil, "DATABASE_URL: required", false},
		{map[string]string{"DATABASE_URL": "x", "DB_DRIVER": "psycopg"}, nil, "DB_DRIVER", false},
		{map[string]string{"DATABASE_URL": "postgresql://app@host:notaport/db"}, nil, "DATABASE_URL: ", false},
		{map[string]string{"DATABASE_URL": "postgresql://app@host:notaport/db", "DB_STRATEGY": "per-request"}, nil, "DATABASE_URL: ", false},
		{good, []string{"-port", "70000"}, "-port 70000 is not a TCP port", true},
		{good, []string{"-bogus"}, "flag provided but not defined: -bogus", true},
		{good, []string{"extra"}, `unexpected argument "extra"`, true},
	}
	for _, tt := range tests {
		err := run(context.Background(), envOf(tt.env), tt.args, io.Discard, io.Discard)
		_, isUsage := err.(usageError)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || isUsage != tt.usage {
			t.Errorf("%v %v: got %v, want one line containing %q (usage %v)", tt.env, tt.args, err, tt.want, tt.usage)
		}
	}
}

func TestRunPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	env := map[string]string{"DATABASE_URL": "postgresql://app@127.0.0.1:1/postgres"}
	err = run(context.Background(), envOf(env), []string{"-port", port}, io.Discard, io.Discard)
	want := "listen 127.0.0.1:" + port + ": address already in use"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// With the database down, both strategies start at once and answer 503 per request.
func TestRunWithDatabaseDown(t *testing.T) {
	for _, strategy := range []string{StrategyPool, StrategyPerRequest} {
		t.Run(strategy, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": closedPortURL(t), "DB_STRATEGY": strategy, "DB_POOL_MIN": "2"}
			s := startRun(t, env)
			if code, body := get(t, s.base+"/ping/"); code != 200 || body != `{"ping":"pong"}` {
				t.Fatalf("ping: %d %s", code, body)
			}
			code, body := get(t, s.base+"/tasks/")
			if code != 503 || body != `{"detail":"database unavailable: connection failed"}` {
				t.Fatalf("tasks: %d %s", code, body)
			}
			if err := s.shutdown(t); err != nil {
				t.Fatalf("run after shutdown: %v", err)
			}
		})
	}
}

// A request whose body is still arriving when shutdown starts is answered before run returns.
func TestRunGracefulShutdown(t *testing.T) {
	s := startRun(t, map[string]string{"DATABASE_URL": closedPortURL(t), "ACCESS_LOG": "1"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"title":""}`
	fmt.Fprintf(conn, "POST /tasks/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	time.Sleep(100 * time.Millisecond) // let the server read the headers: the connection is now active

	s.stop()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-s.done:
		t.Fatalf("run returned %v with a request in flight", err)
	default:
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), time.Second); err == nil {
		t.Error("still accepting new connections during shutdown")
	}

	fmt.Fprint(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"detail":[{"type":"string_too_short","loc":["body","title"],"msg":"String should have at least 1 character"}]}`
	if resp.StatusCode != 422 || string(got) != want {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, got)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("run after a clean shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the last request")
	}
	if !strings.Contains(s.stdout.String(), "/tasks/") {
		t.Errorf("ACCESS_LOG=1 but no access log line: %q", s.stdout.String())
	}
}

func TestRunAgainstDatabase(t *testing.T) {
	rawURL := databaseURL(t)
	for _, strategy := range []string{StrategyPool, StrategyPerRequest} {
		t.Run(strategy, func(t *testing.T) {
			s := startRun(t, map[string]string{"DATABASE_URL": rawURL, "DB_STRATEGY": strategy, "CURSOR_KEY": "run-test-key"})
			resp, err := http.Post(s.base+"/tasks/", "application/json", strings.NewReader(`{"title":"from run"}`))
			if err != nil {
				t.Fatal(err)
			}
			var created struct{ ID int64 }
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 || json.Unmarshal(raw, &created) != nil {
				t.Fatalf("create: %d %s", resp.StatusCode, raw)
			}
			query := "limit=1"
			if created.ID > 1 {
				query += "&after=" + NewCursorCodec([]byte("run-test-key")).Encode(created.ID-1)
			}
			code, body := get(t, s.base+"/tasks/?"+query)
			wantNext := NewCursorCodec([]byte("run-test-key")).Encode(created.ID)
			if code != 200 || !strings.Contains(body, `"title":"from run"`) || !strings.HasSuffix(body, `"next":"`+wantNext+`"}`) {
				t.Fatalf("list: %d %s", code, body)
			}
			if err := s.shutdown(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// closedPortURL names a database on a port nothing listens on: a real refused connection.
func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "postgresql://app@" + addr + "/postgres?sslmode=disable"
}

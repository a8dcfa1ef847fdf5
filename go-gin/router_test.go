// HTTP behaviour of NewRouter: routing, validation over HTTP, body limits, pagination and store failures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// noStore fails the test on any call: validation must never reach SQL.
type noStore struct{ t *testing.T }

func (s noStore) List(context.Context, int64, int) ([]Task, error) {
	s.t.Helper()
	s.t.Error("store.List called")
	return nil, errors.New("unexpected")
}

func (s noStore) Create(context.Context, string, string) (Task, error) {
	s.t.Helper()
	s.t.Error("store.Create called")
	return Task{}, errors.New("unexpected")
}

// fakeStore serves a fixed table of tasks and records what it was asked.
type fakeStore struct {
	tasks     []Task
	err       error
	gotAfter  int64
	gotLimit  int
	gotTitle  string
	gotDesc   string
	panicWith any
}

var fixedTime = time.Date(2026, 11, 25, 17, 47, 54, 123456789, time.FixedZone("X", 3600))

func (s *fakeStore) List(_ context.Context, after int64, limit int) ([]Task, error) {
	if s.panicWith != nil {
		panic(s.panicWith)
	}
	s.gotAfter, s.gotLimit = after, limit
	if s.err != nil {
		return nil, s.err
	}
	var page []Task
	for _, t := range s.tasks {
		if t.ID > after && len(page) < limit {
			page = append(page, t)
		}
	}
	return page, nil
}

func (s *fakeStore) Create(_ context.Context, title, desc string) (Task, error) {
	s.gotTitle, s.gotDesc = title, desc
	if s.err != nil {
		return Task{}, s.err
	}
	return Task{ID: 42, Title: title, Description: desc, CreatedAt: fixedTime}, nil
}

func serve(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func wantResponse(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if w.Code != status || w.Body.String() != body {
		t.Fatalf("got %d %s\nwant %d %s", w.Code, w.Body.String(), status, body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestPing(t *testing.T) {
	r := NewRouter(noStore{t}, RouterOptions{})
	wantResponse(t, serve(r, "GET", "/ping/", "", ""), 200, `{"ping":"pong"}`)
}

func TestNotFound(t *testing.T) {
	r := NewRouter(noStore{t}, RouterOptions{})
	for _, target := range []string{"/", "/tasks", "/ping", "/tasks//", "//tasks/", "/tasks/1", "/TASKS/", "/ping/x", "/nope"} {
		for _, method := range []string{"GET", "POST", "HEAD", "OPTIONS", "PUT"} {
			w := serve(r, method, target, "", "")
			wantResponse(t, w, 404, `{"detail":"Not Found"}`)
			if w.Header().Get("Location") != "" || w.Header().Get("Allow") != "" {
				t.Fatalf("%s %s: unexpected headers %v", method, target, w.Header())
			}
		}
	}
	// An escaped path is matched decoded, as Starlette does.
	wantResponse(t, serve(r, "GET", "/p%69ng/", "", ""), 200, `{"ping":"pong"}`)
}

func TestMethodNotAllowed(t *testing.T) {
	r := NewRouter(noStore{t}, RouterOptions{})
	tests := []struct{ path, methods, allow string }{
		{"/tasks/", "HEAD OPTIONS PUT PATCH DELETE TRACE FOO", "GET, POST"},
		{"/ping/", "HEAD OPTIONS POST PUT PATCH DELETE", "GET"},
	}
	for _, tt := range tests {
		for _, method := range strings.Fields(tt.methods) {
			w := serve(r, method, tt.path, "application/json", `{"title":"x"}`)
			wantResponse(t, w, 405, `{"detail":"Method Not Allowed"}`)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("%s %s: Allow = %q, want %q", method, tt.path, got, tt.allow)
			}
		}
	}
}

func TestCreateValidationOverHTTP(t *testing.T) {
	for _, tt := range bodyCases {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.want) == 0 {
				store := &fakeStore{}
				w := serve(NewRouter(store, RouterOptions{}), "POST", "/tasks/", tt.header(), tt.body)
				if w.Code != 201 || store.gotTitle != tt.title || store.gotDesc != tt.description {
					t.Fatalf("got %d %s, store saw %q %q", w.Code, w.Body.String(), store.gotTitle, store.gotDesc)
				}
				return
			}
			w := serve(NewRouter(noStore{t}, RouterOptions{}), "POST", "/tasks/", tt.header(), tt.body)
			want, _ := json.Marshal(validationJSON{Detail: tt.want})
			wantResponse(t, w, 422, string(want))
		})
	}
}

// A request without Content-Type is not parsed, as in FastAPI (strict_content_type).
func TestCreateWithoutContentType(t *testing.T) {
	req := httptest.NewRequest("POST", "/tasks/", strings.NewReader(`{"title":"x"}`))
	req.Header.Del("Content-Type")
	w := httptest.NewRecorder()
	NewRouter(noStore{t}, RouterOptions{}).ServeHTTP(w, req)
	wantResponse(t, w, 422, `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from"}]}`)
}

func TestCreateResponse(t *testing.T) {
	w := serve(NewRouter(&fakeStore{}, RouterOptions{}), "POST", "/tasks/", "application/json",
		`{"title":"a <b> & c","description":"é\u2028"}`)
	// created_at is UTC with exactly six fractional digits; the keys keep the contract's order.
	wantResponse(t, w, 201, `{"id":42,"title":"a <b> & c","description":"é\u2028","done":false,"created_at":"2026-11-25T16:47:54.123456Z"}`)
}

func TestTimestampFormat(t *testing.T) {
	tests := map[time.Time]string{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC):                  "2026-01-02T03:04:05.000000Z",
		time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC):               "2026-01-02T03:04:05.000001Z",
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC):          "2026-01-02T03:04:05.999999Z",
		time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)): "2025-12-31T23:30:00.000000Z",
	}
	for in, want := range tests {
		if got := formatTimestamp(in); got != want {
			t.Errorf("formatTimestamp(%v) = %s, want %s", in, got, want)
		}
	}
}

// endlessReader yields 'a' forever and counts what was taken from it.
type endlessReader struct{ n int64 }

func (r *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestBodyTooLarge(t *testing.T) {
	const tooLarge = `{"detail":"Request Entity Too Large"}`
	r := NewRouter(noStore{t}, RouterOptions{})

	t.Run("declared length", func(t *testing.T) {
		body := &endlessReader{}
		req := httptest.NewRequest("POST", "/tasks/", body)
		req.ContentLength = 10 << 20
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		wantResponse(t, w, 413, tooLarge)
		if body.n != 0 {
			t.Fatalf("read %d bytes of a body refused by its Content-Length", body.n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		body := &endlessReader{}
		req := httptest.NewRequest("POST", "/tasks/", body)
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		wantResponse(t, w, 413, tooLarge)
		if body.n > 2*maxBodyBytes {
			t.Fatalf("read %d bytes of an oversized chunked body", body.n)
		}
	})
	t.Run("limit is inclusive", func(t *testing.T) {
		pad := maxBodyBytes - len(`{"title":"x","p":""}`)
		body := `{"title":"x","p":"` + strings.Repeat("p", pad) + `"}`
		store := &fakeStore{}
		if w := serve(NewRouter(store, RouterOptions{}), "POST", "/tasks/", "application/json", body); w.Code != 201 {
			t.Fatalf("%d bytes: got %d %s", len(body), w.Code, w.Body.String())
		}
		w := serve(r, "POST", "/tasks/", "application/json", body+" ")
		wantResponse(t, w, 413, tooLarge)
	})
	t.Run("declared length on any path, before routing", func(t *testing.T) {
		for _, target := range []string{"GET /ping/", "GET /tasks/", "DELETE /tasks/", "PUT /nope"} {
			method, path, _ := strings.Cut(target, " ")
			body := &endlessReader{}
			req := httptest.NewRequest(method, path, body)
			req.ContentLength = maxBodyBytes + 1
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			wantResponse(t, w, 413, tooLarge)
			if w.Header().Get("Connection") != "close" || w.Header().Get("Allow") != "" || body.n != 0 {
				t.Fatalf("%s: headers %v, read %d", target, w.Header(), body.n)
			}
		}
	})
	t.Run("before content type", func(t *testing.T) {
		wantResponse(t, serve(r, "POST", "/tasks/", "text/plain", strings.Repeat("x", maxBodyBytes+1)), 413, tooLarge)
	})
	t.Run("over a real connection", func(t *testing.T) {
		srv := httptest.NewServer(r)
		defer srv.Close()
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = io.LimitReader(&endlessReader{}, 10<<20)
			if !chunked {
				rd = strings.NewReader(strings.Repeat("a", 10<<20))
			}
			req, _ := http.NewRequest("POST", srv.URL+"/tasks/", rd)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("chunked=%v: %v", chunked, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 413 || string(got) != tooLarge {
				t.Fatalf("chunked=%v: got %d %s", chunked, resp.StatusCode, got)
			}
		}
	})
}

func TestListValidation(t *testing.T) {
	const (
		parsing = `{"detail":[{"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer"}]}`
		ge      = `{"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1"}]}`
		le      = `{"detail":[{"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 100"}]}`
		cursor  = `{"detail":"invalid cursor"}`
	)
	good := cursorVectors[1].token
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"limit=abc", 422, parsing},
		{"limit=", 422, parsing},
		{"limit", 422, parsing},
		{"limit=1.5", 422, parsing},
		{"limit=5;x", 422, parsing},
		{"limit=5&limit=x", 422, parsing},
		{"limit=0", 422, ge},
		{"limit=-3", 422, ge},
		{"limit=101", 422, le},
		{"limit=" + strings.Repeat("9", 400), 422, le},
		{"after=", 400, cursor},
		{"after", 400, cursor},
		{"after=garbage", 400, cursor},
		{"after=" + good[:21], 400, cursor},
		{"after=" + good[:21] + "R", 400, cursor},
		{"after=%zz", 400, cursor},
		{"after=" + good + "&after=x", 400, cursor},
		{"after=" + NewCursorCodec([]byte("other")).Encode(25), 400, cursor},
		// FastAPI validates parameters before the endpoint decodes the cursor.
		{"after=garbage&limit=0", 422, ge},
	}
	r := NewRouter(noStore{t}, RouterOptions{})
	for _, tt := range tests {
		wantResponse(t, serve(r, "GET", "/tasks/?"+tt.query, "", ""), tt.status, tt.body)
	}
}

func TestListParameters(t *testing.T) {
	good := cursorVectors[1].token
	tests := []struct {
		query string
		after int64
		limit int
	}{
		{"", 0, 25},
		{"limit=1", 0, 1},
		{"limit=100", 0, 100},
		{"limit=+07", 0, 7},
		{"limit=%201_0.00%20", 0, 10},
		{"limit=x&limit=3", 0, 3},
		{"after=" + good, 25, 25},
		{"after=bad&after=" + good + "&limit=2", 25, 2},
		{"other=1&after=" + cursorVectors[3].token, 9223372036854775807, 25},
	}
	for _, tt := range tests {
		store := &fakeStore{}
		w := serve(NewRouter(store, RouterOptions{}), "GET", "/tasks/?"+tt.query, "", "")
		wantResponse(t, w, 200, `{"items":[],"next":null}`)
		if store.gotAfter != tt.after || store.gotLimit != tt.limit {
			t.Errorf("%q: store got after=%d limit=%d, want %d %d", tt.query, store.gotAfter, store.gotLimit, tt.after, tt.limit)
		}
	}
}

func TestListPages(t *testing.T) {
	store := &fakeStore{}
	for id := int64(1); id <= 5; id++ {
		store.tasks = append(store.tasks, Task{ID: id, Title: fmt.Sprint("t", id), CreatedAt: fixedTime})
	}
	r := NewRouter(store, RouterOptions{})
	type page struct {
		Items []map[string]any `json:"items"`
		Next  *string          `json:"next"`
	}
	get := func(query string) page {
		t.Helper()
		w := serve(r, "GET", "/tasks/?"+query, "", "")
		var p page
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Items == nil {
			t.Fatalf("%q: got %d %s", query, w.Code, w.Body.String())
		}
		return p
	}

	p := get("limit=2")
	if len(p.Items) != 2 || p.Next == nil || *p.Next != NewCursorCodec([]byte(DefaultCursorKey)).Encode(2) {
		t.Fatalf("first page: %+v", p)
	}
	p = get("limit=2&after=" + *p.Next)
	if len(p.Items) != 2 || p.Items[0]["id"] != 3.0 || p.Next == nil {
		t.Fatalf("second page: %+v", p)
	}
	p = get("limit=2&after=" + *p.Next)
	if len(p.Items) != 1 || p.Items[0]["id"] != 5.0 || p.Next != nil {
		t.Fatalf("short last page must have next null: %+v", p)
	}
	// A full page says next even when nothing follows; the page after it is empty.
	p = get("limit=5")
	if len(p.Items) != 5 || p.Next == nil {
		t.Fatalf("full page: %+v", p)
	}
	p = get("after=" + *p.Next)
	if len(p.Items) != 0 || p.Next != nil {
		t.Fatalf("empty page: %+v", p)
	}

	w := serve(r, "GET", "/tasks/?limit=1", "", "")
	want := `{"items":[{"id":1,"title":"t1","description":"","done":false,"created_at":"2026-11-25T16:47:54.123456Z"}],"next":"` +
		cursorVectors[0].token + `"}`
	wantResponse(t, w, 200, want)
}

func TestStoreFailures(t *testing.T) {
	for _, cause := range []string{CauseTooManyClients, CausePoolTimeout, CausePoolQueueFull, CauseConnectionFailed} {
		store := &fakeStore{err: fmt.Errorf("wrapped: %w", &UnavailableError{Cause: cause, Err: errors.New("x")})}
		r := NewRouter(store, RouterOptions{})
		for _, w := range []*httptest.ResponseRecorder{
			serve(r, "GET", "/tasks/", "", ""),
			serve(r, "POST", "/tasks/", "application/json", `{"title":"x"}`),
		} {
			wantResponse(t, w, 503, `{"detail":"database unavailable: `+cause+`"}`)
			if got := w.Header().Get("Retry-After"); got != "1" {
				t.Fatalf("Retry-After = %q", got)
			}
		}
	}

	var log strings.Builder
	r := NewRouter(&fakeStore{err: errors.New("boom")}, RouterOptions{ErrorLog: &log})
	wantResponse(t, serve(r, "GET", "/tasks/", "", ""), 500, `{"detail":"Internal Server Error"}`)
	if !strings.Contains(log.String(), "boom") {
		t.Fatalf("error log = %q", log.String())
	}

	log.Reset()
	r = NewRouter(&fakeStore{panicWith: "kaboom"}, RouterOptions{ErrorLog: &log})
	wantResponse(t, serve(r, "GET", "/tasks/", "", ""), 500, `{"detail":"Internal Server Error"}`)
	if !strings.Contains(log.String(), "kaboom") {
		t.Fatalf("panic was not logged: %q", log.String())
	}
}

func TestAccessLog(t *testing.T) {
	var buf strings.Builder
	r := NewRouter(noStore{t}, RouterOptions{AccessLog: &buf})
	serve(r, "GET", "/ping/", "", "")
	if !strings.Contains(buf.String(), "/ping/") {
		t.Fatalf("access log = %q", buf.String())
	}
	buf.Reset()
	serve(NewRouter(noStore{t}, RouterOptions{}), "GET", "/ping/", "", "")
	if buf.Len() != 0 {
		t.Fatal("access log written while off")
	}
}

func TestErrorItemsShape(t *testing.T) {
	// Items carry exactly type, loc and msg, in that order.
	w := serve(NewRouter(noStore{t}, RouterOptions{}), "POST", "/tasks/", "application/json", `{"description":1}`)
	var raw struct{ Detail []map[string]json.RawMessage }
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, it := range raw.Detail {
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		if len(keys) != 3 || it["type"] == nil || it["loc"] == nil || it["msg"] == nil {
			t.Fatalf("item keys %v", keys)
		}
	}
	want := `{"detail":[{"type":"missing","loc":["body","title"],"msg":"Field required"},{"type":"string_type","loc":["body","description"],"msg":"Input should be a valid string"}]}`
	if w.Body.String() != want {
		t.Fatalf("got %s", w.Body.String())
	}
}

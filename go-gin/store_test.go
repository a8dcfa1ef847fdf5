// Stores against the real PostgreSQL of DATABASE_URL; rows are created here and other rows are tolerated.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func databaseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Skip("DATABASE_URL not set")
	}
	return u
}

// withAppName tags connections so a test can find its own backends in pg_stat_activity.
func withAppName(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func uniqueName(t *testing.T) string {
	return fmt.Sprintf("go-gin-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

func realPoolStore(t *testing.T, rawURL string, minConns, maxConns int32) *PoolStore {
	t.Helper()
	config, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	config.MinConns, config.MaxConns = minConns, maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return NewPoolStore(pool, 5*time.Second, 0)
}

func backendCount(t *testing.T, rawURL, appName string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func terminateBackends(t *testing.T, rawURL, appName string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkCreateList stores three tasks and finds them again, in order, among whatever else is there.
func checkCreateList(t *testing.T, store Store) {
	ctx := context.Background()
	tag := uniqueName(t)
	var created []Task
	before := time.Now()
	for i, desc := range []string{"", "with description", strings.Repeat("é", 2000)} {
		title := fmt.Sprintf("%s-%d 😀 <&>", tag, i)
		task, err := store.Create(ctx, title, desc)
		if err != nil {
			t.Fatal(err)
		}
		if task.ID <= 0 || task.Title != title || task.Description != desc || task.Done {
			t.Fatalf("created %+v", task)
		}
		if task.CreatedAt.Before(before.Add(-time.Minute)) || task.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Fatalf("created_at %v is not now", task.CreatedAt)
		}
		if len(created) > 0 && task.ID <= created[len(created)-1].ID {
			t.Fatalf("ids not increasing: %d after %d", task.ID, created[len(created)-1].ID)
		}
		created = append(created, task)
	}

	page, err := store.List(ctx, created[0].ID-1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var found []Task
	for i, task := range page {
		if i > 0 && task.ID <= page[i-1].ID {
			t.Fatalf("page not ascending: %d after %d", task.ID, page[i-1].ID)
		}
		if strings.HasPrefix(task.Title, tag) {
			found = append(found, task)
		}
	}
	if len(found) != len(created) {
		t.Fatalf("found %d of my %d tasks", len(found), len(created))
	}
	for i := range created {
		if !found[i].CreatedAt.Equal(created[i].CreatedAt) || found[i].ID != created[i].ID ||
			found[i].Title != created[i].Title || found[i].Description != created[i].Description {
			t.Fatalf("listed %+v, created %+v", found[i], created[i])
		}
	}

	page, err = store.List(ctx, created[0].ID, 1)
	if err != nil || len(page) != 1 || page[0].ID <= created[0].ID {
		t.Fatalf("after/limit not applied: %+v %v", page, err)
	}
}

func TestPoolStoreCreateList(t *testing.T) {
	checkCreateList(t, realPoolStore(t, databaseURL(t), 1, 4))
}

func TestPerRequestStoreCreateList(t *testing.T) {
	rawURL := databaseURL(t)
	app := uniqueName(t)
	store := perRequestStoreFor(t, withAppName(t, rawURL, app), 5*time.Second)
	checkCreateList(t, store)

	// The per-request store reads text results (QueryExecModeExec), the pool binary ones;
	// both must see the same instant to the microsecond.
	task, err := store.Create(context.Background(), uniqueName(t), "")
	if err != nil {
		t.Fatal(err)
	}
	page, err := realPoolStore(t, rawURL, 0, 1).List(context.Background(), task.ID-1, 1)
	if err != nil || len(page) != 1 || page[0].ID != task.ID || !page[0].CreatedAt.Equal(task.CreatedAt) {
		t.Fatalf("pool read %+v (%v), per-request created %+v", page, err, task)
	}
	// Every connection is closed after its statement.
	deadline := time.Now().Add(5 * time.Second)
	for backendCount(t, rawURL, app) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("per-request connections left open")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPaginationWalkOverHTTP(t *testing.T) {
	for _, strategy := range []string{StrategyPool, StrategyPerRequest} {
		t.Run(strategy, func(t *testing.T) {
			rawURL := databaseURL(t)
			var store Store = realPoolStore(t, rawURL, 1, 4)
			if strategy == StrategyPerRequest {
				store = perRequestStoreFor(t, rawURL, 5*time.Second)
			}
			r := NewRouter(store, RouterOptions{})
			codec := NewCursorCodec([]byte(DefaultCursorKey))
			tag := uniqueName(t)
			stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

			var mine []int64
			for i := 0; i < 7; i++ {
				w := serve(r, "POST", "/tasks/", "application/json", fmt.Sprintf(`{"title":"%s-%d"}`, tag, i))
				var task taskJSON
				if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &task) != nil || !stamp.MatchString(task.CreatedAt) {
					t.Fatalf("create: %d %s", w.Code, w.Body.String())
				}
				wantPrefix := fmt.Sprintf(`{"id":%d,"title":"%s-%d","description":"","done":false,"created_at":"`, task.ID, tag, i)
				if !strings.HasPrefix(w.Body.String(), wantPrefix) {
					t.Fatalf("create body %s", w.Body.String())
				}
				mine = append(mine, task.ID)
			}

			query := "limit=3"
			if mine[0] > 1 {
				query += "&after=" + codec.Encode(mine[0]-1)
			}
			var seen []int64
			for pages := 0; ; pages++ {
				if pages > 1000 {
					t.Fatal("pagination does not end")
				}
				w := serve(r, "GET", "/tasks/?"+query, "", "")
				var page struct {
					Items []taskJSON `json:"items"`
					Next  *string    `json:"next"`
				}
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &page) != nil {
					t.Fatalf("list: %d %s", w.Code, w.Body.String())
				}
				for _, task := range page.Items {
					if len(seen) > 0 && task.ID <= seen[len(seen)-1] {
						t.Fatalf("id %d after %d", task.ID, seen[len(seen)-1])
					}
					seen = append(seen, task.ID)
				}
				if (page.Next != nil) != (len(page.Items) == 3) {
					t.Fatalf("next %v with %d items", page.Next, len(page.Items))
				}
				if page.Next == nil {
					break
				}
				if *page.Next != codec.Encode(page.Items[2].ID) {
					t.Fatalf("next is not the cursor of the last item")
				}
				query = "limit=3&after=" + *page.Next
			}
			set := map[int64]bool{}
			for _, id := range seen {
				set[id] = true
			}
			for _, id := range mine {
				if !set[id] {
					t.Fatalf("task %d missing from the walk", id)
				}
			}
		})
	}
}

// A terminated backend looks to the pool like a PostgreSQL restart.
func TestPoolSurvivesTerminatedBackends(t *testing.T) {
	rawURL := databaseURL(t)
	app := uniqueName(t)
	store := realPoolStore(t, withAppName(t, rawURL, app), 2, 2)
	ctx := context.Background()
	if _, err := store.List(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}

	// Straight away: a dead connection may fail its request, but only as "connection failed",
	// and the pool recovers within a few requests.
	if terminateBackends(t, rawURL, app) == 0 {
		t.Fatal("no pooled backend found to terminate")
	}
	time.Sleep(100 * time.Millisecond)
	recovered := false
	for i := 0; i < 4 && !recovered; i++ {
		_, err := store.List(ctx, 0, 1)
		var u *UnavailableError
		switch {
		case err == nil:
			recovered = true
		case errors.As(err, &u) && u.Cause == CauseConnectionFailed:
		default:
			t.Fatalf("after terminate: %v", err)
		}
	}
	if !recovered {
		t.Fatal("pool did not recover after its backends were terminated")
	}

	// After a pause: idle connections are pinged before use, so no request fails.
	if _, err := store.List(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	terminateBackends(t, rawURL, app)
	time.Sleep(1100 * time.Millisecond)
	if _, err := store.List(ctx, 0, 1); err != nil {
		t.Fatalf("idle dead connection was handed out: %v", err)
	}
}

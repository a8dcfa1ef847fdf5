// Task storage in PostgreSQL through pgx, and the mapping of failures to the 503 causes.
package main

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	listSQL   = `SELECT id, title, description, done, created_at FROM tasks WHERE id > $1 ORDER BY id LIMIT $2`
	createSQL = `INSERT INTO tasks (title, description) VALUES ($1, $2) RETURNING id, title, description, done, created_at`
)

const (
	CauseTooManyClients   = "too many clients already"
	CausePoolTimeout      = "pool timeout"
	CausePoolQueueFull    = "pool queue full"
	CauseConnectionFailed = "connection failed"
)

type Task struct {
	ID          int64
	Title       string
	Description string
	Done        bool
	CreatedAt   time.Time
}

// Store is what the HTTP layer needs; tests substitute their own.
type Store interface {
	List(ctx context.Context, afterID int64, limit int) ([]Task, error)
	Create(ctx context.Context, title, description string) (Task, error)
}

// UnavailableError becomes a 503 with Retry-After; any other store error is a 500.
type UnavailableError struct {
	Cause string
	Err   error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "database unavailable: " + e.Cause
	}
	return "database unavailable: " + e.Cause + ": " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// querier is satisfied by both *pgx.Conn and *pgxpool.Conn.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func listTasks(ctx context.Context, q querier, afterID int64, limit int) ([]Task, error) {
	rows, err := q.Query(ctx, listSQL, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tasks := make([]Task, 0, limit)
	for rows.Next() {
		var t Task
		if err := rows.Scan(&t.ID, &t.Title, &t.Description, &t.Done, &t.CreatedAt); err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, rows.Err()
}

func createTask(ctx context.Context, q querier, title, description string) (Task, error) {
	var t Task
	err := q.QueryRow(ctx, createSQL, title, description).Scan(&t.ID, &t.Title, &t.Description, &t.Done, &t.CreatedAt)
	return t, err
}

// connectFailure classifies an error from opening a connection.
func connectFailure(err error) error {
	if isTooManyClients(err) {
		return &UnavailableError{Cause: CauseTooManyClients, Err: err}
	}
	return &UnavailableError{Cause: CauseConnectionFailed, Err: err}
}

// unavailableClasses are the SQLSTATE classes that blame the database rather than the
// statement: connection exception, insufficient resources, operator intervention (a
// restart or admin shutdown) and system error. They are the classes psycopg raises as
// OperationalError, which the Python services turn into 503s.
var unavailableClasses = []string{"08", "53", "57", "58"}

// queryFailure classifies an error from a statement on an open connection. A closed
// connection afterwards also means the link broke (network, server gone): pgx closes it
// on every such error, including a cancelled context. Anything else is a statement
// problem and stays a 500.
func queryFailure(err error, connClosed bool) error {
	if err == nil {
		return nil
	}
	if isTooManyClients(err) {
		return &UnavailableError{Cause: CauseTooManyClients, Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && slices.Contains(unavailableClasses, pgErr.Code[:min(2, len(pgErr.Code))]) {
		return &UnavailableError{Cause: CauseConnectionFailed, Err: err}
	}
	if connClosed {
		return &UnavailableError{Cause: CauseConnectionFailed, Err: err}
	}
	return err
}

func isTooManyClients(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53300"
}

// PoolStore serves every request from one pgxpool. pgxpool pings a connection that sat
// idle for over a second before handing it out and drops closed ones on release, which
// is what carries it across a PostgreSQL restart.
type PoolStore struct {
	pool       *pgxpool.Pool
	timeout    time.Duration
	maxWaiting int64
	waiting    atomic.Int64
}

func NewPoolStore(pool *pgxpool.Pool, timeout time.Duration, maxWaiting int64) *PoolStore {
	return &PoolStore{pool: pool, timeout: timeout, maxWaiting: maxWaiting}
}

func (s *PoolStore) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	// Like psycopg_pool's max_waiting, only requests that find no idle connection queue up.
	if s.maxWaiting > 0 && s.pool.Stat().IdleConns() == 0 {
		if s.waiting.Add(1) > s.maxWaiting {
			s.waiting.Add(-1)
			return nil, &UnavailableError{Cause: CausePoolQueueFull}
		}
		defer s.waiting.Add(-1)
	}
	acquireCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := s.pool.Acquire(acquireCtx)
	switch {
	case err == nil:
		return conn, nil
	case isTooManyClients(err):
		return nil, &UnavailableError{Cause: CauseTooManyClients, Err: err}
	case errors.Is(acquireCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, &UnavailableError{Cause: CausePoolTimeout, Err: err}
	}
	return nil, &UnavailableError{Cause: CauseConnectionFailed, Err: err}
}

func (s *PoolStore) List(ctx context.Context, afterID int64, limit int) ([]Task, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	tasks, err := listTasks(ctx, conn, afterID, limit)
	return tasks, queryFailure(err, conn.Conn().IsClosed())
}

func (s *PoolStore) Create(ctx context.Context, title, description string) (Task, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return Task{}, err
	}
	defer conn.Release()
	task, err := createTask(ctx, conn, title, description)
	return task, queryFailure(err, conn.Conn().IsClosed())
}

// PerRequestStore opens a fresh connection for every call and closes it afterwards.
type PerRequestStore struct {
	config  *pgx.ConnConfig
	timeout time.Duration
}

// NewPerRequestStore takes a config from pgx.ParseConfig. Unless the URL chose a mode, it
// switches to QueryExecModeExec: a prepared statement cannot be reused on a connection
// that lives for one statement, and preparing it first would cost a second round trip.
func NewPerRequestStore(config *pgx.ConnConfig, connectTimeout time.Duration) *PerRequestStore {
	config = config.Copy()
	config.ConnectTimeout = connectTimeout
	if config.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		config.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return &PerRequestStore{config: config, timeout: connectTimeout}
}

func (s *PerRequestStore) connect(ctx context.Context) (*pgx.Conn, error) {
	connectCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, s.config)
	if err != nil {
		return nil, connectFailure(err)
	}
	return conn, nil
}

// closeConn does not use the request's context: a client that went away must not leave
// the server-side session behind.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx) // the statement's outcome is already decided; a failed goodbye changes nothing
}

func (s *PerRequestStore) List(ctx context.Context, afterID int64, limit int) ([]Task, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	tasks, err := listTasks(ctx, conn, afterID, limit)
	return tasks, queryFailure(err, conn.IsClosed())
}

func (s *PerRequestStore) Create(ctx context.Context, title, description string) (Task, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return Task{}, err
	}
	defer closeConn(conn)
	task, err := createTask(ctx, conn, title, description)
	return task, queryFailure(err, conn.IsClosed())
}

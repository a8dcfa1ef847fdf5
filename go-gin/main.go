// Entry point: flags, settings, the database store and an HTTP server with graceful shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const shutdownGrace = 10 * time.Second

// usageError marks a command-line mistake, which exits 2 like the flag package does.
type usageError struct{ error }

func main() {
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-gin: %v\n", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run serves until ctx is cancelled, then lets in-flight requests finish. It returns nil
// after a clean shutdown.
func run(ctx context.Context, getenv func(string) string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("go-gin", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors come back as one line through main
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8000, "TCP port to listen on (0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: go-gin [-host 127.0.0.1] [-port 8000]; settings come from the environment (docs/api.md)")
			fs.PrintDefaults()
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *port < 0 || *port > 65535 {
		return usageError{fmt.Errorf("-port %d is not a TCP port", *port)}
	}

	settings, err := LoadSettings(getenv)
	if err != nil {
		return err
	}
	store, closeStore, err := openStore(settings)
	if err != nil {
		return err
	}
	storeInUse := false
	defer func() {
		// pgxpool.Close waits for every borrowed connection; after a failed shutdown some
		// handler may still hold one, and the process is about to exit anyway.
		if !storeInUse {
			closeStore()
		}
	}()

	opts := RouterOptions{CursorKey: settings.CursorKey, ErrorLog: stderr}
	if settings.AccessLog {
		opts.AccessLog = stdout
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %v", addr, listenCause(err))
	}
	srv := &http.Server{
		Handler:           NewRouter(store, opts),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Room for the longest database wait a request may have before its 503.
		WriteTimeout:                 30*time.Second + settings.PoolTimeout + settings.ConnectTimeout,
		IdleTimeout:                  120 * time.Second,
		DisableGeneralOptionsHandler: true, // "OPTIONS *" gets the contract's 404, not Go's 200
		ErrorLog:                     log.New(stderr, "go-gin: http: ", 0),
	}

	serveErr := make(chan error, 1)
	storeInUse = true
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "go-gin listening on http://%s (DB_STRATEGY=%s)\n", ln.Addr(), settings.Strategy)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "go-gin shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close() // the grace period is over; cut the stragglers off
		return fmt.Errorf("shutdown: requests still running after %v: %w", shutdownGrace, err)
	}
	storeInUse = false
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// listenCause reduces "listen tcp 127.0.0.1:8000: bind: address already in use" to its
// last part, since the caller names the address already.
func listenCause(err error) error {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return sysErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Err
	}
	return err
}

// openStore never touches the network: pgxpool connects lazily (MinConns in the
// background), and the per-request store connects per call, so a database that is down
// at startup shows up as 503s rather than a hung or failed start.
func openStore(s Settings) (Store, func(), error) {
	switch s.Strategy {
	case StrategyPerRequest:
		config, err := pgx.ParseConfig(s.DatabaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return NewPerRequestStore(config, s.ConnectTimeout), func() {}, nil
	default:
		config, err := pgxpool.ParseConfig(s.DatabaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		config.MinConns = s.PoolMin
		config.MaxConns = s.PoolMax
		config.ConnConfig.ConnectTimeout = s.ConnectTimeout
		pool, err := pgxpool.NewWithConfig(context.Background(), config)
		if err != nil {
			return nil, nil, fmt.Errorf("database pool: %w", err)
		}
		return NewPoolStore(pool, s.PoolTimeout, s.PoolMaxWaiting), pool.Close, nil
	}
}

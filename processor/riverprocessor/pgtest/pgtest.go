// Package pgtest runs a throwaway PostgreSQL cluster for tests: Debian's
// postgresql package (initdb and pg_ctl), a fresh data directory, a free
// local port and a private socket directory, fsync off (commits survive
// the server's crash, not the machine's). As root (initdb
// refuses it) the cluster runs as the postgres user.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A Server is a running PostgreSQL cluster.
type Server struct {
	// URL connects to its postgres database as the superuser.
	URL string

	bin, dir, port string
	owner          *user.User // nil: the current user
}

// bin returns the directory of initdb: $PG_BIN, or the newest
// /usr/lib/postgresql/*/bin. In CI a missing PostgreSQL fails the test;
// elsewhere it skips it.
func binDir(tb testing.TB) string {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(dirs)
	if len(dirs) > 0 {
		return filepath.Dir(dirs[len(dirs)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	msg := "PostgreSQL is not installed (apt-get install postgresql)"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; CI runs this test")
	return ""
}

// Start initializes and starts a cluster for the test's duration.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{bin: binDir(tb)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root needs the postgres user: %v", err)
		}
		s.owner = u
	}
	// Not t.TempDir: its parents are private to the current user.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	s.dir = dir
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if s.owner != nil {
		uid, _ := strconv.Atoi(s.owner.Uid)
		gid, _ := strconv.Atoi(s.owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	s.port = freePort(tb)
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(s.data(), "postgresql.auto.conf"), []byte(strings.Join([]string{
		"listen_addresses = '127.0.0.1'",
		"port = " + s.port,
		"unix_socket_directories = '" + dir + "'",
		// Fast, and still durable across a server crash (Stop): only an
		// operating system crash could lose data.
		"fsync = off",
		"full_page_writes = off",
		"max_connections = 200",
		"",
	}, "\n")), 0o600); err != nil {
		tb.Fatal(err)
	}
	if s.owner != nil {
		uid, _ := strconv.Atoi(s.owner.Uid)
		gid, _ := strconv.Atoi(s.owner.Gid)
		os.Chown(filepath.Join(s.data(), "postgresql.auto.conf"), uid, gid)
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", s.port)
	if err := s.Restart(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "stop") })
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs a PostgreSQL program as the cluster's owner.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	if s.owner != nil {
		uid, _ := strconv.Atoi(s.owner.Uid)
		gid, _ := strconv.Atoi(s.owner.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(os.Environ(), "HOME="+s.dir)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// Stop stops the server at once (connections are cut), as a crash or a
// restart does.
func (s *Server) Stop() error {
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Restart starts the server (again), and waits until it accepts
// connections.
func (s *Server) Restart() error {
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Database creates a database with a fresh name and returns its URL.
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	name := fmt.Sprintf("test_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	return strings.Replace(s.URL, "/postgres?", "/"+name+"?", 1)
}

func freePort(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

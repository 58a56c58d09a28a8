// Package s3test runs a real S3-compatible server for tests: versitygw
// (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0), on a
// free local port, over a temporary directory, with a fresh bucket.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A Server is a running versitygw.
type Server struct {
	// Endpoint is its URL, such as "http://127.0.0.1:39111".
	Endpoint string
	// Access and Secret are its root credentials.
	Access, Secret string
	// Dir is the directory its buckets are folders of.
	Dir string

	bin, addr string
	log       *os.File
	cmd       *exec.Cmd
}

// Binary returns the path of versitygw: $VERSITYGW, or versitygw on the
// PATH or in $(go env GOPATH)/bin. In CI (CI set) a missing binary fails
// the test; elsewhere it skips it.
func Binary(tb testing.TB) string {
	tb.Helper()
	candidates := []string{os.Getenv("VERSITYGW"), "versitygw"}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		candidates = append(candidates, filepath.Join(string(trimNL(gopath)), "bin", "versitygw"))
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; CI runs this test")
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Start runs versitygw for the test's duration.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	s := &Server{Access: "pictures" + random(6), Secret: "secret" + random(12), Dir: tb.TempDir()}
	addr := freeAddr(tb)
	s.Endpoint = "http://" + addr
	s.bin, s.addr = bin, addr
	logFile, err := os.Create(filepath.Join(tb.TempDir(), "versitygw.log"))
	if err != nil {
		tb.Fatal(err)
	}
	s.log = logFile
	tb.Cleanup(func() {
		s.Stop()
		logFile.Close()
	})
	if err := s.Restart(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Restart starts the server (again, after Stop) on the same port and
// directory, and waits until it answers.
func (s *Server) Restart() error {
	s.cmd = exec.Command(s.bin, "--port", s.addr, "--access", s.Access, "--secret", s.Secret, "posix", s.Dir)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.log.Name())
			return fmt.Errorf("versitygw did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns an S3 client of the server's root account (path-style).
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.Access, s.Secret, ""),
	})
}

// Bucket creates a bucket with a random name and returns the name.
func (s *Server) Bucket(tb testing.TB) string {
	tb.Helper()
	name := "pictures-" + random(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		tb.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// Stop kills the server, to test an unreachable endpoint.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func freeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

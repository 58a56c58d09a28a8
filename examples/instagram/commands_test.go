package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
)

// command runs `instagram name args...` in this process, as main would,
// and returns its exit status and what it printed.
func command(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	require.NoError(t, err)
	defer out.Close()
	code := runCommand(name, args, func(string) string { return "" }, out)
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	return code, string(b)
}

// storedFiles lists every file of a data directory's media and
// originals, hidden (temporary) ones included, sorted.
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"media", "originals"} {
		root := filepath.Join(dir, sub)
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(root, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	slices.Sort(files)
	return files
}

// recordedFiles returns every key the rows of a data directory's
// database refer to, sorted, and the pictures.
func recordedFiles(t *testing.T, dir string) ([]string, []pictures.Picture) {
	t.Helper()
	db, err := openDB(context.Background(), filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	defer db.Close()
	all, err := db.AllPictures(context.Background())
	require.NoError(t, err)
	var keys []string
	for _, p := range all {
		keys = append(keys, cmp.Or(p.Original, p.Key))
		keys = append(keys, p.Keys()...)
	}
	slices.Sort(keys)
	return keys, all
}

// TestReconcileCommand makes the stored posts stale (as a configuration
// change would: their variants were made with other encoder settings, and
// one ratio is missing), then runs `instagram reconcile -dry-run`, which
// counts and changes nothing, `instagram reconcile`, which processes them,
// and the dry run again, which finds nothing to do.
func TestReconcileCommand(t *testing.T) {
	dir := t.TempDir()
	m := NewMain(Config{Addr: "127.0.0.1:0", DataDir: dir, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, m.Run(context.Background()))
	a := &testApp{Main: m, t: t, dir: dir}
	c := a.client()
	c.signup("ada")
	for i := range 2 {
		c.waitProcessed(c.newPost(fmt.Sprint("photo ", i), photo(t, 400+40*i, 400)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, a.Close(ctx))

	// Stale: another version, and the 4/5 variants not recorded.
	db, err := openDB(context.Background(), filepath.Join(a.dir, "instagram.db"))
	require.NoError(t, err)
	all, err := db.AllPictures(context.Background())
	require.NoError(t, err)
	require.Len(t, all, 2)
	for _, p := range all {
		p.Version = "older"
		p.Variants = slices.DeleteFunc(p.Variants, func(v pictures.VariantSet) bool { return v.Ratio == "4/5" })
		require.NoError(t, db.SavePicture(context.Background(), p))
	}
	require.NoError(t, db.Close())
	before := storedFiles(t, a.dir)

	code, out := command(t, "reconcile", "-data", a.dir, "-dry-run")
	require.Equal(t, 0, code, out)
	t.Logf("dry run:\n%s", out)
	assert.Contains(t, out, "post.image: 2 pictures, 0 current, 2 to process\n")
	assert.Regexp(t, `variants to add: \d+ \(\d+\.\d megapixels, about [\d.]+ kB\), to delete: 0`, out)
	assert.Regexp(t, `processing: about \d+s on one worker`, out)
	assert.Contains(t, out, "user.avatar: 0 pictures, 0 current, 0 to process\n")
	assert.Equal(t, before, storedFiles(t, a.dir), "a dry run changes nothing")

	code, out = command(t, "reconcile", "-data", a.dir)
	require.Equal(t, 0, code, out)
	t.Logf("run:\n%s", out)
	assert.Regexp(t, `processing 2 pictures took \d`, out)
	assert.NotContains(t, out, "\r", "no progress bar when stdout is not a terminal")
	recorded, after := recordedFiles(t, a.dir)
	for _, p := range after {
		assert.Equal(t, a.post.Fingerprint(), p.Version)
		assert.True(t, slices.ContainsFunc(p.Variants, func(v pictures.VariantSet) bool { return v.Ratio == "4/5" }))
	}
	assert.Equal(t, recorded, storedFiles(t, a.dir), "storage holds what the rows record")

	code, out = command(t, "reconcile", "-data", a.dir, "-dry-run")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "post.image: 2 pictures, 2 current, 0 to process\n")
	assert.Contains(t, out, "every picture is current: nothing to do")

	code, out = command(t, "reconcile", "-data", a.dir, "-no-such-flag")
	assert.Equal(t, 2, code, out)
}

// webProcess is the app's web process: this test binary running main.
type webProcess struct {
	cmd *exec.Cmd
	out *syncbuf.Buffer
	url string
}

func startWebProcess(t *testing.T, dir, tmp string) *webProcess {
	t.Helper()
	w := &webProcess{out: &syncbuf.Buffer{}}
	w.cmd = exec.Command(os.Args[0], "-test.run=^$")
	w.cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN=-addr 127.0.0.1:0 -demo=false -data "+dir, "TMPDIR="+tmp)
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	require.NoError(t, w.cmd.Start())
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		w.cmd.Wait()
	})
	running := regexp.MustCompile(`instagram is running at (http://\S+)`)
	require.Eventually(t, func() bool { return running.MatchString(w.out.String()) }, 2*time.Minute, 20*time.Millisecond, "%s", w.out)
	w.url = running.FindStringSubmatch(w.out.String())[1]
	return w
}

func (w *webProcess) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: w.url, http: &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// openUploads returns the upload temporary files the process has open.
func openUploads(pid int) []string {
	links, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	var out []string
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.Contains(target, "instagram-upload-") {
			out = append(out, target)
		}
	}
	return out
}

// TestSweepAfterKill kills the web process with SIGKILL while photos are
// being uploaded and processed, one upload half-sent: no upload file is
// left in its temporary folder, and `instagram sweep` then leaves exactly
// the files the rows record. A dry run before counts the same.
func TestSweepAfterKill(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	web := startWebProcess(t, dir, tmp)
	var wg sync.WaitGroup
	created := make(chan struct{}, 16)
	for _, name := range []string{"ada", "bob", "cyd"} {
		c := web.client(t)
		c.signup(name)
		for i := range 2 {
			wg.Go(func() {
				var body bytes.Buffer
				mw := multipart.NewWriter(&body)
				fw, _ := mw.CreateFormFile("photo", "p.jpg")
				fw.Write(photo(t, 600+20*i, 500))
				mw.Close()
				req, _ := http.NewRequest("POST", web.url+"/new", &body)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				if res, err := c.http.Do(req); err == nil { // the kill cuts some short
					res.Body.Close()
					if res.StatusCode == http.StatusSeeOther {
						created <- struct{}{}
					}
				}
			})
		}
	}
	// One upload stays half-sent: its file is being spooled when the
	// process dies.
	slow := web.client(t)
	slow.signup("dee")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("photo", "slow.jpg")
		fw.Write(photo(t, 800, 600)[:20_000])
		// and nothing more
	}()
	req, _ := http.NewRequest("POST", web.url+"/new", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	go func() {
		if res, err := slow.http.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-created // one post exists
	// and its job is writing variants
	require.Eventually(t, func() bool {
		n := 0
		for _, f := range storedFiles(t, dir) {
			if strings.HasSuffix(f, ".avif") {
				n++
			}
		}
		return n >= 2
	}, 2*time.Minute, 2*time.Millisecond, "a job writes variants (recorded when it ends)")
	require.Eventually(t, func() bool { return len(openUploads(web.cmd.Process.Pid)) > 0 }, time.Minute, 5*time.Millisecond,
		"the half-sent upload is being spooled")
	require.NoError(t, web.cmd.Process.Kill())
	web.cmd.Wait()
	pw.Close()
	wg.Wait()

	left, _ := filepath.Glob(filepath.Join(tmp, "*"))
	assert.Empty(t, left, "no upload or multipart file outlives the process")

	recorded, rows := recordedFiles(t, dir)
	require.NotEmpty(t, rows)
	before := storedFiles(t, dir)
	t.Logf("after the kill: %d rows, %d files, %d of them recorded", len(rows), len(before), len(recorded))

	code, out := command(t, "sweep", "-data", dir, "-grace", "1ns", "-dry-run")
	require.Equal(t, 0, code, out)
	t.Logf("dry run: %s", out)
	assert.Equal(t, before, storedFiles(t, dir), "a dry run deletes nothing")
	code, out2 := command(t, "sweep", "-data", dir, "-grace", "1ns")
	require.Equal(t, 0, code, out2)
	t.Logf("sweep: %s", out2)
	assert.Equal(t, stripTook(out), strings.ReplaceAll(stripTook(out2), "deleted:", "to delete:"), "the sweep does what its dry run said")
	assert.Equal(t, recorded, storedFiles(t, dir), "storage holds exactly what the rows record")
	for _, k := range recorded {
		assert.Contains(t, before, k, "no recorded file was missing")
	}
}

var took = regexp.MustCompile(`took \S+`)

func stripTook(s string) string { return took.ReplaceAllString(s, "took") }

// TestSweepDuringUploadsCommand runs `instagram sweep` in another process
// again and again while photos are uploaded and processed: it deletes
// nothing (what is not recorded yet is younger than its grace period), and
// every file the rows record is there at the end.
func TestSweepDuringUploadsCommand(t *testing.T) {
	a := startApp(t)
	stop, done := make(chan struct{}), make(chan struct{})
	var sweeps []string
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN=sweep -grace 2m -data "+a.dir)
			out, err := cmd.Output()
			if err != nil {
				out = fmt.Appendf(out, "failed: %v", err)
			}
			sweeps = append(sweeps, string(out))
			if err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	var ids []int64
	var mu sync.Mutex
	for _, name := range []string{"ada", "bob"} {
		c := a.client()
		c.signup(name)
		wg.Go(func() {
			for i := range 3 {
				id := c.newPost("p", photo(t, 500+30*i, 450))
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c := a.client()
	for _, id := range ids {
		c.waitProcessed(id)
	}
	close(stop)
	<-done
	young := 0
	for _, out := range sweeps {
		require.NotContains(t, out, "failed:", out)
		for _, m := range regexp.MustCompile(`(\d+) younger than 2m0s kept; deleted: (\d+) \(.*?\) and (\d+) temporary files \((\d+) in progress`).FindAllStringSubmatch(out, -1) {
			assert.Equal(t, "0", m[2], out)
			assert.Equal(t, "0", m[3], out)
			if m[1] != "0" || m[4] != "0" {
				young++
			}
		}
	}
	t.Logf("%d sweeps during 6 uploads; %d saw files not recorded yet, and kept them", len(sweeps), young)
	assert.Greater(t, len(sweeps), 2, "the sweep ran")
	assert.Positive(t, young, "the sweeps saw files not recorded yet")
	recorded, _ := recordedFiles(t, a.dir)
	stored := a.mediaFiles()
	slices.Sort(stored)
	assert.Equal(t, recorded, stored, "every recorded file is there, and nothing else")
}

// command runs `instagram args...` as a process of the deployment, and
// returns what it printed on stdout.
func (d *deployment) command(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN="+strings.Join(args, " "),
		"INSTAGRAM_DATABASE="+d.db, "INSTAGRAM_S3_BUCKET="+d.bucket, "INSTAGRAM_S3_ENDPOINT="+d.s3.Endpoint,
		"INSTAGRAM_S3_PREFIX=media/")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	require.NoError(t, err, "%s\n%s", out, stderr.String())
	t.Logf("$ instagram %s (%v)\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out)
	return string(out)
}

// TestReconcileAndSweepScaledOut runs both commands on a scaled-out
// deployment (PostgreSQL, versitygw, a worker process): reconcile
// enqueues the stale pictures for the worker and follows them until they
// are current; sweep deletes from the bucket what no row records.
func TestReconcileAndSweepScaledOut(t *testing.T) {
	d := startDeployment(t)
	a := startApp(t, d.web)
	d.startWorker(t, "worker-1")
	c := a.client()
	c.signup("ada")
	for i := range 3 {
		c.newPost("p", photo(t, 500+40*i, 450))
	}
	waitAllDone(t, a, 6*time.Minute)
	ctx := context.Background()
	all, err := a.db.AllPictures(ctx)
	require.NoError(t, err)
	for _, p := range all {
		p.Version = "older"
		require.NoError(t, a.db.SavePicture(ctx, p))
	}
	store := a.post.Storage
	orphans := []string{"posts/2020/01/crashed.jpeg", "posts/2020/01/gone/1_1/100w.avif"}
	for _, k := range orphans {
		require.NoError(t, store.Put(ctx, k, strings.NewReader("x")))
	}
	// and an original of a crashed upload, in the originals' store
	lost := "posts/2020/01/lost-abcdefghijklmnopqrstuvwxyz.jpeg"
	require.NoError(t, a.post.Originals.Put(ctx, lost, strings.NewReader("x")))

	out := d.command(t, "reconcile", "-dry-run")
	assert.Contains(t, out, "post.image: 3 pictures, 0 current, 3 to process\n")
	out = d.command(t, "reconcile")
	assert.Regexp(t, `enqueuing 3 pictures took`, out)
	assert.Regexp(t, `every picture is current \(the workers took \d+s\)`, out)
	for _, p := range mustAll(t, a) {
		assert.True(t, a.fieldOf(p).Current(p), p.Key)
	}

	out = d.command(t, "sweep", "-dry-run", "-grace", "1ns")
	assert.Contains(t, out, "; to delete: 3 (")
	out = d.command(t, "sweep", "-grace", "1ns", "-v")
	assert.Contains(t, out, "; deleted: 3 (")
	for _, k := range orphans {
		assert.Contains(t, out, "deleted media/"+k, "named with the bucket's prefix of the variants")
	}
	assert.Contains(t, out, "deleted originals/"+lost, "named with the bucket's prefix of the originals")
	var want []string
	for _, p := range mustAll(t, a) {
		want = append(want, cmp.Or(p.Original, p.Key))
		want = append(want, p.Keys()...)
	}
	slices.Sort(want)
	got, err := store.List(ctx, "")
	require.NoError(t, err)
	originals, err := a.post.Originals.List(ctx, "")
	require.NoError(t, err)
	got = append(got, originals...)
	slices.Sort(got)
	assert.Equal(t, want, got, "the bucket holds exactly what the rows record")
}

func mustAll(t *testing.T, a *testApp) []pictures.Picture {
	t.Helper()
	all, err := a.db.AllPictures(context.Background())
	require.NoError(t, err)
	return all
}

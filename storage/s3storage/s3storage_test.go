package s3storage_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage"
	"github.com/gopictures/pictures/storage/s3storage"
	"github.com/gopictures/pictures/storage/s3storage/s3test"
	"github.com/gopictures/pictures/storage/storagetest"
)

// Storage is a pictures.Storage, and a pictures.URLBaser. The check is in
// a test file because the package itself does not import package pictures
// (adapters need only standard-library types).
var (
	_ pictures.Storage  = (*s3storage.Storage)(nil)
	_ pictures.URLBaser = (*s3storage.Storage)(nil)
)

// TestConformance runs the storage conformance suite against a real
// S3-compatible server (versitygw), each test in a fresh bucket, with and
// without a key prefix.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	for _, prefix := range []string{"", "media/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storagetest.Storage {
				return &s3storage.Storage{Client: client, Bucket: srv.Bucket(t), Prefix: prefix}
			})
		})
	}
}

// TestObjectsAsServed fetches objects through their presigned URLs, as a
// browser would, and checks what the server sends: the bytes, the content
// type, and an immutable Cache-Control for variants only.
func TestObjectsAsServed(t *testing.T) {
	srv := s3test.Start(t)
	s := &s3storage.Storage{Client: srv.Client(), Bucket: srv.Bucket(t), Prefix: "media/"}
	ctx := context.Background()
	for _, tc := range []struct {
		key, contentType, cacheControl string
	}{
		{"2026/11/21/abc.jpeg", "image/jpeg", ""},
		{"2026/11/21/abc/1_1/640w.avif", "image/avif", storage.VariantCacheControl},
		{"2026/11/21/abc/320w.jpeg", "image/jpeg", storage.VariantCacheControl},
		{"2026/11/21/abc/4_5/104w.png", "image/png", storage.VariantCacheControl},
		{"odd name/caf\u00e9 #1?.jpeg", "image/jpeg", ""},
	} {
		body := []byte("content of " + tc.key)
		require.NoError(t, s.Put(ctx, tc.key, bytes.NewReader(body)))
		u := s.URL(tc.key)
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		assert.Equal(t, "/"+s.Bucket+"/media/"+tc.key, parsed.Path, "path-style URL of the key")
		assert.NotEmpty(t, parsed.Query().Get("X-Amz-Signature"), "presigned")
		resp, err := http.Get(u)
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", tc.key, got)
		assert.Equal(t, body, got, tc.key)
		assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"), tc.key)
		assert.Equal(t, tc.cacheControl, resp.Header.Get("Cache-Control"), tc.key)
	}
	// A tampered signature is refused: the server checks it.
	u := s.URL("2026/11/21/abc.jpeg")
	resp, err := http.Get(strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=0", 1))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// TestPresignedURLsAreStable checks that a key's URL does not change from
// one call to the next (pages and browsers can cache it), and stays valid
// for at least the configured lifetime.
func TestPresignedURLsAreStable(t *testing.T) {
	srv := s3test.Start(t)
	s := &s3storage.Storage{Client: srv.Client(), Bucket: "b", URLLifetime: time.Hour}
	a, b := s.URL("x/100w.avif"), s.URL("x/100w.avif")
	if a != b {
		// The window may have turned between the two calls.
		a, b = s.URL("x/100w.avif"), s.URL("x/100w.avif")
	}
	assert.Equal(t, a, b)
	q, err := url.Parse(a)
	require.NoError(t, err)
	assert.Equal(t, "7200", q.Query().Get("X-Amz-Expires"), "two windows")
	signed, err := time.Parse("20060102T150405Z", q.Query().Get("X-Amz-Date"))
	require.NoError(t, err)
	assert.True(t, signed.Equal(signed.Truncate(time.Hour)), "signed at the start of the window: %v", signed)
	assert.Equal(t, "", s.URLBase(), "presigned URLs are not a base and a key")
}

func TestPublicURLs(t *testing.T) {
	s := &s3storage.Storage{Bucket: "b", Prefix: "media/", BaseURL: "https://cdn.example.com/media"}
	assert.Equal(t, "https://cdn.example.com/media/a%20b/100w.avif", s.URL("a b/100w.avif"))
	assert.Equal(t, "https://cdn.example.com/media/", s.URLBase())
}

// TestField saves a photograph through a field stored in the bucket and
// fetches what the rendered <picture> links to.
func TestField(t *testing.T) {
	srv := s3test.Start(t)
	store := &s3storage.Storage{Client: srv.Client(), Bucket: srv.Bucket(t), Prefix: "media/"}
	var done pictures.Picture
	field := &pictures.PictureField{
		Name: "s3-field", AspectRatios: []string{"", "1/1"}, ContainerWidth: 400, GridColumns: 1,
		PixelDensities: []int{1}, Storage: store, Processor: pictures.Synchronous,
		OnProcessed: func(_ context.Context, p pictures.Picture) error { done = p; return nil },
	}
	require.NoError(t, pictures.Register(field))
	t.Cleanup(func() { pictures.Unregister(field) })
	photo, err := os.ReadFile("../../testdata/photos/dandelion-1600.jpg")
	require.NoError(t, err)
	p, err := field.Save(context.Background(), bytes.NewReader(photo), "dandelion.jpg",
		func(context.Context, pictures.Picture) error { return nil })
	require.NoError(t, err)
	require.Equal(t, p.Key, done.Key)
	keys, err := store.List(context.Background(), "")
	require.NoError(t, err)
	want := append([]string{p.Key}, done.Keys()...)
	slices.Sort(want)
	assert.Equal(t, want, keys, "the original and every variant, nothing else")

	html, err := pictures.Render(done, "alt", "a dandelion")
	require.NoError(t, err)
	urls := regexp.MustCompile(`(?:src|srcset)="([^" ]+)`).FindAllStringSubmatch(string(html), -1)
	require.NotEmpty(t, urls)
	for _, m := range urls {
		resp, err := http.Get(strings.ReplaceAll(m[1], "&amp;", "&"))
		require.NoError(t, err)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, m[1])
		assert.Equal(t, storage.VariantCacheControl, resp.Header.Get("Cache-Control"))
		assert.NotEmpty(t, data)
	}
}

// BenchmarkURL measures what rendering pays per variant URL: a public one,
// a presigned one made before in the same window (kept), and one signed
// for the first time.
func BenchmarkURL(b *testing.B) {
	private := &s3storage.Storage{Client: s3.New(s3.Options{Region: "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}), Bucket: "media"}
	public := &s3storage.Storage{Bucket: "media", BaseURL: "https://cdn.example.com/"}
	for name, s := range map[string]*s3storage.Storage{"presigned": private, "public": public} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.URL("2026/11/21/abcdefgh/1_1/640w.avif") == "" {
					b.Fatal("no URL")
				}
			}
		})
	}
	b.Run("presigned-first", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if private.URL("2026/11/21/abcdefgh/1_1/"+strconv.Itoa(i)+"w.avif") == "" {
				b.Fatal("no URL")
			}
		}
	})
}

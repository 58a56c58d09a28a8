// Package s3storage stores pictures in an S3-compatible bucket (Amazon S3,
// R2, MinIO, versitygw, Ceph...), through the AWS SDK for Go v2. It lives
// in its own module so that applications on a local directory do not build
// the SDK.
//
// The caller configures the client: credentials, region, and for
// S3-compatible servers their endpoint and path-style addressing:
//
//	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
//		o.BaseEndpoint = aws.String("http://127.0.0.1:7070")
//		o.UsePathStyle = true
//	})
//	field.Storage = &s3storage.Storage{Client: client, Bucket: "media", BaseURL: "https://cdn.example.com/"}
//
// Every object gets the content type of its extension; variants also get
// a one-year immutable Cache-Control (their content never changes), and
// originals none. URLs are BaseURL followed by the key when the bucket (or
// a CDN before it) is public, and presigned GET URLs otherwise.
//
// # Versions
//
// This module requires a released version of
// github.com/gopictures/pictures, so it is tagged
// (storage/s3storage/vX.Y.Z) after the core module: a release tags the core
// first, then raises this module's requirement to that version and tags it,
// and updates the example app last (see "Modules and releases" in the
// repository's README). Inside the repository, go.work joins the modules,
// so that changes to several are built together without replace directives.
package s3storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/gopictures/pictures/storage"
)

// DefaultURLLifetime is how long presigned URLs stay valid, at least, when
// Storage.URLLifetime is zero.
const DefaultURLLifetime = 6 * time.Hour

// maxURLLifetime is half of S3's limit on presigned URLs (7 days): a URL
// signed at the start of its window must last the window twice.
const maxURLLifetime = 84 * time.Hour

// Storage is a pictures.Storage in an S3 bucket. Its zero value is not
// usable: set Client and Bucket. It is safe for concurrent use, and must
// not be copied after first use.
type Storage struct {
	// Client is the configured S3 client. Required.
	Client *s3.Client
	// Bucket is the bucket's name. Required; it must exist.
	Bucket string
	// Prefix is prepended to every key in the bucket, such as "media/";
	// empty for none.
	Prefix string
	// BaseURL is the public URL under which the objects of Prefix are
	// served (the bucket's own public URL with Prefix, or a CDN's):
	// URL(key) is BaseURL followed by the escaped key. When it is empty
	// the bucket is taken as private and URLs are presigned GETs.
	BaseURL string
	// URLLifetime is how long a presigned URL stays valid at least; zero
	// means DefaultURLLifetime, and at most 84 hours. URLs are signed for
	// windows of that length, so a key has the same URL all window long
	// (pages and browsers can cache it) and each URL is valid for the rest
	// of its window and one more.
	URLLifetime time.Duration

	signerOnce sync.Once
	signer     *v4.Signer

	// Presigning costs about 20 µs; a page renders many URLs, again and
	// again, and they do not change within a window: keep them.
	mu     sync.Mutex
	window time.Time
	urls   map[string]string
}

func (s *Storage) key(key string) (string, error) {
	if err := storage.CheckKey(key); err != nil {
		return "", err
	}
	if s.Client == nil || s.Bucket == "" {
		return "", errors.New("s3storage: Storage needs a Client and a Bucket")
	}
	return s.Prefix + key, nil
}

// Open returns the object's content. A missing key gives an error
// satisfying errors.Is(err, fs.ErrNotExist).
func (s *Storage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &k})
	if err != nil {
		return nil, wrap("open", key, err)
	}
	return out.Body, nil
}

// Put stores everything read from r under key, with its content type and,
// for variants, an immutable Cache-Control. The body is read whole before
// the upload starts, so a failing reader or a canceled context stores
// nothing, and S3 makes the object visible all at once: readers see the old
// object or the new one.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(contextReader{ctx, r}); err != nil {
		return fmt.Errorf("s3storage: put %q: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.Bucket,
		Key:           &k,
		Body:          bytes.NewReader(buf.Bytes()),
		ContentLength: aws.Int64(int64(buf.Len())),
		ContentType:   aws.String(storage.ContentType(key)),
	}
	if storage.IsVariantKey(key) {
		in.CacheControl = aws.String(storage.VariantCacheControl)
	}
	for try := 0; ; try++ {
		_, err := s.Client.PutObject(ctx, in)
		if err == nil {
			return nil
		}
		// S3 servers over a file system (versitygw's posix backend) may
		// answer 409 ExistingObjectIsDirectory when a Delete of another
		// key removes the key's folder during the write: it is transient.
		var apiErr smithy.APIError
		if try == 4 || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ExistingObjectIsDirectory" {
			return wrap("put", key, err)
		}
		in.Body = bytes.NewReader(buf.Bytes())
	}
}

// contextReader stops reading when its context ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Delete removes key; a missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &k}); err != nil {
		if errors.Is(wrap("delete", key, err), fs.ErrNotExist) {
			return nil
		}
		return wrap("delete", key, err)
	}
	return nil
}

// List returns every key starting with prefix, in lexical order, as S3
// lists them (by UTF-8 bytes).
func (s *Storage) List(ctx context.Context, prefix string) ([]string, error) {
	if err := storage.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if s.Client == nil || s.Bucket == "" {
		return nil, errors.New("s3storage: Storage needs a Client and a Bucket")
	}
	full := s.Prefix + prefix
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &full})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			if o.Key != nil {
				keys = append(keys, strings.TrimPrefix(*o.Key, s.Prefix))
			}
		}
	}
	return keys, nil
}

// URL returns BaseURL followed by the key, or a presigned GET URL when
// BaseURL is empty. Presigning is local computation (no request), with the
// client's credentials.
func (s *Storage) URL(key string) string {
	if s.BaseURL != "" {
		return storage.JoinURL(s.BaseURL, key)
	}
	lifetime := s.URLLifetime
	if lifetime <= 0 {
		lifetime = DefaultURLLifetime
	}
	lifetime = min(lifetime, maxURLLifetime)
	window := time.Now().Truncate(lifetime)
	if u, ok := s.cached(key, window); ok {
		return u
	}
	k := s.Prefix + key
	req, err := s3.NewPresignClient(s.Client, func(o *s3.PresignOptions) {
		o.Expires = 2 * lifetime
		o.Presigner = windowPresigner{s.presigner(), window}
	}).PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: &s.Bucket, Key: &k})
	if err != nil {
		return ""
	}
	s.remember(key, window, req.URL)
	return req.URL
}

// maxCachedURLs bounds the presigned URLs kept for the current window.
const maxCachedURLs = 50_000

// cached returns the URL of key signed for window, if it was made before.
func (s *Storage) cached(key string, window time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.window.Equal(window) {
		return "", false
	}
	u, ok := s.urls[key]
	return u, ok
}

func (s *Storage) remember(key string, window time.Time, u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.window.Equal(window) || len(s.urls) >= maxCachedURLs {
		s.window, s.urls = window, make(map[string]string)
	}
	s.urls[key] = u
}

// URLBase returns BaseURL with a trailing slash, or "" for presigned URLs,
// which are not a prefix and a key (see pictures.URLBaser).
func (s *Storage) URLBase() string {
	if s.BaseURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.BaseURL, "/") + "/"
}

// presigner returns the storage's signer, which signs as S3 wants: the
// path escaped once, not twice. It caches signing keys.
func (s *Storage) presigner() *v4.Signer {
	s.signerOnce.Do(func() {
		s.signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	})
	return s.signer
}

// windowPresigner signs as of the start of the current window, so that a
// key's presigned URL stays the same for the whole window.
type windowPresigner struct {
	signer *v4.Signer
	start  time.Time
}

func (p windowPresigner) PresignHTTP(ctx context.Context, credentials aws.Credentials, r *http.Request,
	payloadHash string, service string, region string, _ time.Time,
	optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.signer.PresignHTTP(ctx, credentials, r, payloadHash, service, region, p.start, optFns...)
}

// wrap names the operation and key, and turns S3's "no such key" into
// fs.ErrNotExist.
func wrap(op, key string, err error) error {
	var nsk *types.NoSuchKey
	var apiErr smithy.APIError
	if errors.As(err, &nsk) || errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound") {
		return fmt.Errorf("s3storage: %s %q: %w (%v)", op, key, fs.ErrNotExist, err)
	}
	return fmt.Errorf("s3storage: %s %q: %w", op, key, err)
}

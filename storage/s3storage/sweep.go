package s3storage

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gopictures/pictures/storage"
)

// Walk calls fn with every key starting with prefix, in lexical order,
// one page of S3's listing at a time, so that no listing is held (List
// holds them all): package pictures' Sweep uses it. An error of fn stops
// the walk and is returned.
func (s *Storage) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := storage.CheckPrefix(prefix); err != nil {
		return err
	}
	if s.Client == nil || s.Bucket == "" {
		return errors.New("s3storage: Storage needs a Client and a Bucket")
	}
	full := s.Prefix + prefix
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &full})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap("walk", prefix, err)
		}
		for _, o := range page.Contents {
			if o.Key != nil {
				if err := fn(strings.TrimPrefix(*o.Key, s.Prefix)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Stat returns the size and last-modified time of key's object, from a
// HEAD request (package pictures' Sweep needs the age of what it would
// delete). A missing key gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (s *Storage) Stat(ctx context.Context, key string) (fs.FileInfo, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &k})
	if err != nil {
		return nil, wrap("stat", key, err)
	}
	return objectInfo{name: path.Base(key), size: aws.ToInt64(out.ContentLength), mod: aws.ToTime(out.LastModified)}, nil
}

type objectInfo struct {
	name string
	size int64
	mod  time.Time
}

func (i objectInfo) Name() string       { return i.name }
func (i objectInfo) Size() int64        { return i.size }
func (i objectInfo) Mode() fs.FileMode  { return 0o444 }
func (i objectInfo) ModTime() time.Time { return i.mod }
func (i objectInfo) IsDir() bool        { return false }
func (i objectInfo) Sys() any           { return nil }

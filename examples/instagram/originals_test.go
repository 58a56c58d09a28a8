package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures/storage/s3storage/s3test"
)

// TestS3OriginalsPrivate: on a bucket whose variants are public (a bucket
// policy lets anyone read media/*, as a CDN in front of it would need),
// the pages link to the public variants, and the original, stored under
// originals/ under a name no variant's key tells, is refused to anyone
// without credentials.
func TestS3OriginalsPrivate(t *testing.T) {
	s := s3test.Start(t)
	bucket := s.Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/media/*"}]}`, bucket)
	_, err := s.Client().PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: aws.String(policy)})
	require.NoError(t, err)
	public := s.Endpoint + "/" + bucket + "/"

	a := startApp(t, func(c *Config) {
		c.S3 = S3Config{Bucket: bucket, Endpoint: s.Endpoint, Prefix: "media/", PublicURL: public + "media/", OriginalsPrefix: "originals/"}
	})
	c := a.client()
	c.signup("ada")
	id := c.newPost("private original", photo(t, 800, 600))
	c.waitProcessed(id)

	get := func(url string) int {
		res, err := http.Get(url) // no credentials
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	page := c.get(fmt.Sprintf("/p/%d", id)).body
	m := regexp.MustCompile(regexp.QuoteMeta(public+"media/") + `([^" ,]+)\.avif`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page links to the public variants")
	assert.Equal(t, http.StatusOK, get(m[0]), "a variant is public")

	list, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("originals/")})
	require.NoError(t, err)
	require.Len(t, list.Contents, 1, "one original")
	key := strings.TrimPrefix(*list.Contents[0].Key, "originals/")
	assert.Equal(t, http.StatusForbidden, get(public+"originals/"+key), "the original is refused")
	// What a variant's URL tells: its picture's stem; the original is
	// named with a random suffix no URL holds.
	stem := strings.Split(m[1], "/")[:5] // posts/Y/m/d/<name>
	named := strings.Join(stem, "/") + ".jpeg"
	assert.NotEqual(t, named, key)
	assert.True(t, strings.HasPrefix(key, strings.Join(stem, "/")+"-"), "%s, of %s", key, named)
	assert.NotContains(t, page, key[len(named)-5:len(named)+22], "no page holds the random part")
	for _, u := range []string{public + "media/" + named, public + "originals/" + named} {
		assert.NotEqual(t, http.StatusOK, get(u), u)
	}
	media, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("media/")})
	require.NoError(t, err)
	for _, o := range media.Contents {
		assert.NotEqual(t, "media/"+key, *o.Key)
	}
}

// TestS3ConfigRefusesPublicOriginals: a public URL over the whole bucket,
// or prefixes that overlap, would publish the originals: refused at start.
func TestS3ConfigRefusesPublicOriginals(t *testing.T) {
	for _, tc := range []struct {
		cfg  S3Config
		want string
	}{
		{S3Config{PublicURL: "https://cdn.example/", OriginalsPrefix: "originals/"}, "set a prefix for the variants"},
		{S3Config{Prefix: "media/", OriginalsPrefix: "media/originals/"}, "overlap"},
		{S3Config{Prefix: "m", OriginalsPrefix: "media-originals/"}, "overlap"},
	} {
		err := tc.cfg.check()
		if assert.Error(t, err, "%+v", tc.cfg) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	assert.NoError(t, S3Config{Prefix: "media/", PublicURL: "https://cdn.example/", OriginalsPrefix: "originals/"}.check())
	assert.NoError(t, S3Config{OriginalsPrefix: "originals/"}.check(), "presigned URLs, variants at the bucket's root")
}

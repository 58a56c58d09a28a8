package s3storage_test

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/storage/s3storage"
)

// A field stores its pictures in a private bucket of an S3-compatible
// server; pages link to presigned URLs. (This example needs a server, so it
// is compiled but not run; the package's tests run against versitygw.)
func ExampleStorage() {
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:7070"),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("ACCESS", "SECRET", ""),
	})
	field := &pictures.PictureField{
		Name:         "post.image",
		AspectRatios: []string{"", "1/1"},
		Storage:      &s3storage.Storage{Client: client, Bucket: "media", Prefix: "pictures/"},
	}
	pictures.MustRegister(field)
}

// With BaseURL, the bucket (or a CDN before it) is public and URLs are
// BaseURL followed by the escaped key; no request is made.
func ExampleStorage_URL() {
	store := &s3storage.Storage{Bucket: "media", Prefix: "pictures/", BaseURL: "https://cdn.example.com/pictures/"}
	fmt.Println(store.URL("2026/11/21/abc/1_1/640w.avif"))
	fmt.Println(store.URL("odd name/café.jpeg"))
	// Output:
	// https://cdn.example.com/pictures/2026/11/21/abc/1_1/640w.avif
	// https://cdn.example.com/pictures/odd%20name/caf%C3%A9.jpeg
}

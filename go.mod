module github.com/gopictures/pictures

go 1.26.0

require (
	github.com/gen2brain/avif v0.5.3
	github.com/gen2brain/webp v0.5.5
	github.com/google/go-cmp v0.7.0
	github.com/stretchr/testify v1.12.1
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/image v0.47.0
)

require (
	github.com/ebitengine/purego v0.10.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

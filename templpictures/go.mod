module github.com/gopictures/pictures/templpictures

go 1.26.0

require (
	github.com/a-h/templ v0.3.1100
	github.com/gopictures/pictures v0.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/ebitengine/purego v0.10.1 // indirect
	github.com/gen2brain/avif v0.5.3 // indirect
	github.com/gen2brain/webp v0.5.5 // indirect
	github.com/tetratelabs/wazero v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/image v0.47.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)


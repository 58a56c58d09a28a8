// Package templpictures renders the pictures of
// github.com/gopictures/pictures in components of github.com/a-h/templ,
// in a module of its own so that the core does not depend on templ.
//
// Picture and Preload take the arguments of the html/template helpers
// picture and picture_preload, and give the same HTML and the same errors
// (which templ returns from Render):
//
//	templ Post(post Post) {
//		<article>
//			@templpictures.Picture(post.Image, "layout", "feed", "alt", post.Caption, "placeholder", "blur")
//		</article>
//	}
package templpictures

import (
	"context"
	"io"

	"github.com/a-h/templ"

	"github.com/gopictures/pictures"
)

// Picture is the <picture> element of p, as pictures.Render renders it
// from the same name/value arguments ({{picture p args...}} in
// html/template). A bad argument is the error of its Render, with the
// helper's message; a zero Picture renders as nothing.
func Picture(p pictures.Picture, args ...any) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		html, err := pictures.Render(p, args...)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, string(html))
		return err
	})
}

// Preload is the <link rel="preload" as="image"> of p for the page's
// <head>, as pictures.Preload renders it: give it the arguments of the
// page's Picture of p, with "priority" true.
func Preload(p pictures.Picture, args ...any) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		html, err := pictures.Preload(p, args...)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, string(html))
		return err
	})
}

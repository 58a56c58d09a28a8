// Package card is the component of templpictures' example, written in
// templ's language: card_templ.go is generated from card.templ by
//
//	go run github.com/a-h/templ/cmd/templ@v0.3.1100 generate ./templpictures
//
// run from the repository's root.
package card

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gopictures/pictures"
)

// Uploads: the new-post form and the profile settings, whose avatar is an
// upload. Both save their picture through savePicture.

func (s *Server) newPostForm(w http.ResponseWriter, r *http.Request) {
	if requireViewer(w, r) == nil {
		return
	}
	s.render(w, r, http.StatusOK, "new", page{Title: "New post"})
}

func (s *Server) newPost(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	limit := maxUpload(s.post)
	form := page{Title: "New post", Form: url.Values{}}
	refuse := func(msg string) {
		form.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "new", form)
	}
	if msg := parseUpload(w, r, limit); msg != "" {
		refuse(msg)
		return
	}
	defer r.MultipartForm.RemoveAll()
	caption := strings.TrimSpace(r.PostFormValue("caption"))
	form.Form.Set("caption", caption)
	if n := utf8.RuneCountInString(caption); n > maxCaption {
		refuse(fmt.Sprintf("The caption is %d characters long; the limit is %d.", n, maxCaption))
		return
	}
	var id int64
	err := s.savePicture(r, s.post, "photo", func(ctx context.Context, img pictures.Picture) (err error) {
		id, err = s.db.CreatePost(ctx, me.ID, caption, img, time.Now())
		return err
	})
	if msg := uploadError(err, limit); msg != "" {
		refuse(msg)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (s *Server) settingsForm(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	s.render(w, r, http.StatusOK, "settings", page{Title: "Edit profile", Form: url.Values{"name": {me.Name}, "bio": {me.Bio}}})
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	limit := maxUpload(s.avatar)
	form := page{Title: "Edit profile", Form: url.Values{}}
	refuse := func(msg string) {
		form.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "settings", form)
	}
	if msg := parseUpload(w, r, limit); msg != "" {
		refuse(msg)
		return
	}
	defer r.MultipartForm.RemoveAll()
	name := strings.TrimSpace(r.PostFormValue("name"))
	bio := strings.TrimSpace(r.PostFormValue("bio"))
	form.Form.Set("name", name)
	form.Form.Set("bio", bio)
	if n := utf8.RuneCountInString(bio); n > maxBio {
		refuse(fmt.Sprintf("The bio is %d characters long; the limit is %d.", n, maxBio))
		return
	}
	if n := utf8.RuneCountInString(name); n > maxName {
		refuse(fmt.Sprintf("The name is %d characters long; the limit is %d.", n, maxName))
		return
	}
	var old pictures.Picture
	err := s.savePicture(r, s.avatar, "avatar", func(ctx context.Context, img pictures.Picture) (err error) {
		old, err = s.db.SetAvatar(ctx, me.ID, img)
		return err
	})
	msg := uploadError(err, limit)
	switch {
	case errors.Is(err, http.ErrMissingFile):
		// The avatar stays as it is.
	case msg != "":
		refuse(msg)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		// The new avatar is stored: the old one's files can go.
		if err := s.avatar.Delete(r.Context(), old); err != nil {
			s.log.Error("instagram: deleting the old avatar", "key", old.Key, "err", err)
		}
	}
	if err := s.db.UpdateProfile(r.Context(), me.ID, name, bio); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sessions.forget("", me.ID)
	http.Redirect(w, r, "/u/"+url.PathEscape(me.Username), http.StatusSeeOther)
}

// savePicture is the app's one upload flow, for posts' photos and avatars
// alike. It saves the file of the form's field name as a new picture of f
// (pictures.Save: checked, its original stored), has store record it (insert
// or update the row that holds it), and only then schedules its processing,
// so that a job that finishes at once still finds the row to update. If
// store fails, the original is deleted again. The error is
// http.ErrMissingFile when the form has no such file, a
// *pictures.UploadError when the upload is refused (see uploadError), or
// what failed.
//
// A picture that could not be scheduled is a success: its row is valid and
// shows the preview, and catching up at the next start processes it.
func (s *Server) savePicture(r *http.Request, f *pictures.PictureField, name string, store func(context.Context, pictures.Picture) error) error {
	file, header, err := r.FormFile(name)
	if err != nil {
		return err
	}
	defer file.Close()
	ctx := r.Context()
	if s.db.EnqueuesJobs() {
		// With PostgreSQL, store enqueues the job in the transaction that
		// records the picture, so that a crash cannot leave the row without
		// its job; Save would enqueue it a second time. This is Save with
		// that one difference (the README's "Processing at scale").
		p, err := f.Upload(ctx, file, header.Filename)
		if err != nil {
			return err
		}
		if err := store(ctx, p); err != nil {
			if derr := f.Delete(context.WithoutCancel(ctx), p); derr != nil {
				err = errors.Join(err, derr)
			}
			return fmt.Errorf("storing %s: %w", p.Key, err)
		}
		return nil
	}
	p, err := f.Save(ctx, file, header.Filename, store)
	if errors.Is(err, pictures.ErrNotScheduled) {
		s.log.Error("instagram: saved a picture but could not schedule its processing; it is processed at the next start", "key", p.Key, "err", err)
		return nil
	}
	return err
}

// uploadError turns an upload failure into a message for the form, or ""
// if it is not the uploader's doing.
func uploadError(err error, limit int64) string {
	var refused *pictures.UploadError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &refused):
		return refused.Message
	case errors.As(err, &tooBig):
		return fmt.Sprintf("The file is larger than %d MB.", limit>>20)
	case errors.Is(err, http.ErrMissingFile):
		return "Choose a photo to share."
	}
	return ""
}

// parseUpload reads a multipart form whose file may be limit bytes (and
// its other fields 64 KB more), keeping at most 1 MB in memory. It returns
// a message for the form if the request is refused.
func parseUpload(w http.ResponseWriter, r *http.Request, limit int64) string {
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if msg := uploadError(err, limit); msg != "" {
			return msg
		}
		return "The upload did not arrive whole. Please try again."
	}
	return ""
}

// maxUpload is the field's byte limit.
func maxUpload(f *pictures.PictureField) int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return pictures.DefaultMaxBytes
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
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
	up, status, msg := s.receiveUpload(w, r, me, "photo", limit)
	if msg != "" {
		form.Error = msg
		form.Form.Set("caption", strings.TrimSpace(r.PostFormValue("caption")))
		s.render(w, r, status, "new", form)
		return
	}
	defer up.Close()
	caption := strings.TrimSpace(r.PostFormValue("caption"))
	form.Form.Set("caption", caption)
	if n := utf8.RuneCountInString(caption); n > maxCaption {
		refuse(fmt.Sprintf("The caption is %d characters long; the limit is %d.", n, maxCaption))
		return
	}
	var id int64
	err := s.savePicture(r, up, s.post, func(ctx context.Context, img pictures.Picture) (err error) {
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
	up, status, msg := s.receiveUpload(w, r, me, "avatar", limit)
	if msg != "" {
		form.Error = msg
		for _, k := range []string{"name", "bio"} {
			form.Form.Set(k, strings.TrimSpace(r.PostFormValue(k)))
		}
		s.render(w, r, status, "settings", form)
		return
	}
	defer up.Close()
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
	err := s.savePicture(r, up, s.avatar, func(ctx context.Context, img pictures.Picture) (err error) {
		old, err = s.db.SetAvatar(ctx, me.ID, img)
		return err
	})
	msg = uploadError(err, limit)
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
// alike. It saves the file of the upload as a new picture of f
// (pictures.Save: checked, its original stored), has store record it (insert
// or update the row that holds it), and only then schedules its processing,
// so that a job that finishes at once still finds the row to update. If
// store fails, the original is deleted again. The file is read into memory
// under the process-wide upload memory budget (Limits.UploadMemory), and
// waits for its share. The error is
// http.ErrMissingFile when the form has no such file, a
// *pictures.UploadError when the upload is refused (see uploadError), or
// what failed.
//
// A picture that could not be scheduled is a success: its row is valid and
// shows the preview, and catching up at the next start processes it.
func (s *Server) savePicture(r *http.Request, up *upload, f *pictures.PictureField, store func(context.Context, pictures.Picture) error) error {
	if up.file == nil {
		return http.ErrMissingFile
	}
	ctx := r.Context()
	release, err := s.uploads.hold(ctx, up.size, s.limits.UploadMemory)
	if err != nil {
		return err
	}
	defer release()
	file, filename := io.NewSectionReader(up.file, 0, up.size), up.filename
	if s.db.EnqueuesJobs() {
		// With PostgreSQL, store enqueues the job in the transaction that
		// records the picture, so that a crash cannot leave the row without
		// its job; Save would enqueue it a second time. This is Save with
		// that one difference (the README's "Processing at scale").
		p, err := f.Upload(ctx, file, filename)
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
	p, err := f.Save(ctx, file, filename, store)
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
	case errors.Is(err, errBusy):
		return busyUploads
	}
	return ""
}

const busyUploads = "We are receiving more photos than we can take right now. Please try again in a minute."

// An upload is a form with one file, as receiveUpload read it: its other
// fields are in the request's PostForm, its file in a temporary file.
type upload struct {
	file     *os.File // nil: the form has no file
	filename string
	size     int64
}

// Close removes the temporary file.
func (u *upload) Close() {
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
	}
}

// receiveUpload reads a multipart form whose file (the part named field)
// may be limit bytes, and its other fields FormBytes in all, within the
// account's limits (Limits: uploads at once, per account and per hour) and
// no slower than the upload rate. The file goes to a temporary file, the
// other fields to r.PostForm; memory holds a few kilobytes whatever the
// size. It returns a status and a message for the form if the request is
// refused.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, me *User, field string, limit int64) (up *upload, status int, msg string) {
	up = &upload{}
	// The form's text fields, as far as they arrived: a refused upload
	// shows them again (the forms put them before the file, so a file too
	// large does not lose what was typed).
	values := url.Values{}
	r.PostForm, r.Form = values, values
	body, _ := r.Body.(*limitedBody)
	if body == nil {
		return up, http.StatusBadRequest, "The upload did not arrive whole. Please try again."
	}
	account := strconv.FormatInt(me.ID, 10)
	tooMany := func() (string, bool) {
		wait := s.uploads.perHour.blocked(account)
		return fmt.Sprintf("You have shared %d photos in the last hour, as many as we take. Try again in %d minutes.",
			s.limits.UploadsPerHour, int(math.Ceil(wait.Minutes()))), wait > 0
	}
	// A body larger than a form holds a file: refused before it is read
	// if the account has uploaded all it may this hour. (A form without
	// one, such as the settings without a new avatar, goes through.)
	if msg, refused := tooMany(); refused && r.ContentLength > s.limits.FormBytes {
		return up, http.StatusTooManyRequests, msg
	}
	body.wait() // no deadline while waiting for a turn
	ok, err := s.uploads.begin(r.Context(), me.ID)
	switch {
	case err != nil:
		return up, http.StatusServiceUnavailable, busyUploads
	case !ok:
		return up, http.StatusTooManyRequests, "You are already sharing photos. Wait until they are done, then try again."
	}
	defer s.uploads.end(me.ID)
	body.upload(w, limit+s.limits.FormBytes, s.limits.UploadGrace, s.limits.UploadRate)

	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return up, http.StatusBadRequest, "The upload did not arrive whole. Please try again."
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return up, http.StatusBadRequest, "The upload did not arrive whole. Please try again."
	}
	textLeft := s.limits.FormBytes
	cut := func(err error) (*upload, int, string) {
		up.Close()
		up.file = nil
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return up, http.StatusUnprocessableEntity, fmt.Sprintf("The file is larger than %d MB.", limit>>20)
		case errors.Is(err, errBodyTimeout):
			return up, http.StatusRequestTimeout, "The upload was too slow to arrive. Please try again on a better connection."
		}
		return up, http.StatusBadRequest, "The upload did not arrive whole. Please try again."
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil || parts == 16 {
			return cut(err)
		}
		name := part.FormName()
		if part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, textLeft+1))
			if err != nil {
				return cut(err)
			}
			if textLeft -= int64(len(v)); textLeft < 0 {
				return cut(&http.MaxBytesError{Limit: s.limits.FormBytes})
			}
			values.Add(name, string(v))
			continue
		}
		if name != field || up.file != nil {
			continue // not a file of this form: skipped
		}
		// A file: it counts against the hourly limit as soon as it starts.
		if msg, refused := tooMany(); refused {
			return up, http.StatusTooManyRequests, msg
		}
		s.uploads.perHour.fail(account)
		if up.file, err = os.CreateTemp("", "instagram-upload-"); err != nil {
			return up, http.StatusInternalServerError, "Something went wrong. Please try again."
		}
		os.Remove(up.file.Name()) // unnamed: gone with the process, even a killed one
		up.filename = part.FileName()
		n, err := io.Copy(up.file, io.LimitReader(part, limit+1))
		if err != nil {
			return cut(err)
		}
		if n > limit {
			return cut(&http.MaxBytesError{Limit: limit})
		}
		if n == 0 {
			up.Close()
			up.file = nil // an empty file input: no file
		}
		up.size = n
	}
	// What follows the closing boundary, so that the body ends here, and
	// its deadline with it.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return cut(err)
	}
	return up, 0, ""
}

// maxUpload is the field's byte limit.
func maxUpload(f *pictures.PictureField) int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return pictures.DefaultMaxBytes
}

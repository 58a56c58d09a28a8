package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gopictures/pictures"
)

// A User is an account, with the counts its profile shows.
type User struct {
	ID        int64
	Username  string
	Name      string
	Bio       string
	Avatar    pictures.Picture
	CreatedAt time.Time

	Posts, Followers, Following int
	FollowedByViewer            bool
}

// A Post is a photo with its caption, author and counts.
type Post struct {
	ID        int64
	Author    User
	Caption   string
	Image     pictures.Picture
	CreatedAt time.Time

	Likes, Comments int
	LikedByViewer   bool
	RecentComments  []Comment // the feed shows the latest two
}

// A Comment on a post.
type Comment struct {
	ID        int64
	PostID    int64
	Author    User
	Body      string
	CreatedAt time.Time
}

// Errors of the store.
var (
	ErrNotFound      = errors.New("not found")
	ErrForbidden     = errors.New("forbidden")
	ErrUsernameTaken = errors.New("username taken")
)

// PageSize is the number of posts of a feed or grid page.
const PageSize = 12

func unix(t int64) time.Time { return time.Unix(t, 0).UTC() }

// CreateUser adds an account.
func (db *DB) CreateUser(ctx context.Context, username, name string, passwordHash []byte) (int64, error) {
	id, err := db.insert(ctx, `INSERT INTO users (username, name, password_hash, created_at) VALUES (?, ?, ?, ?)`,
		username, name, passwordHash, time.Now().Unix())
	if isUnique(err) {
		return 0, ErrUsernameTaken
	}
	return id, err
}

// Credentials returns the id and password hash of a username.
func (db *DB) Credentials(ctx context.Context, username string) (id int64, hash []byte, err error) {
	err = db.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE username = ?`, username).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return id, hash, err
}

// Sessions are random tokens in a cookie; the database keeps their SHA-256
// only, so a leaked database does not leak sessions.

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateSession starts a session for the user and returns its token.
func (db *DB) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	token := rand.Text()
	_, err := db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)`,
		tokenHash(token), userID, time.Now().Add(ttl).Unix())
	return token, err
}

// SessionUser returns the user of an unexpired session.
func (db *DB) SessionUser(ctx context.Context, token string) (User, error) {
	var u User
	var avatar sql.Null[pictures.Picture]
	var created int64
	err := db.QueryRowContext(ctx, `
		SELECT u.id, u.username, u.name, u.bio, u.avatar, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash(token), time.Now().Unix()).
		Scan(&u.ID, &u.Username, &u.Name, &u.Bio, &avatar, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.Avatar, u.CreatedAt = avatar.V, unix(created)
	return u, err
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash(token))
	return err
}

// Profile returns a user with its counts, as seen by viewerID (0: nobody).
func (db *DB) Profile(ctx context.Context, username string, viewerID int64) (User, error) {
	var u User
	var avatar sql.Null[pictures.Picture]
	var created int64
	err := db.QueryRowContext(ctx, `
		SELECT u.id, u.username, u.name, u.bio, u.avatar, u.created_at,
			(SELECT COUNT(*) FROM posts WHERE user_id = u.id),
			(SELECT COUNT(*) FROM follows WHERE followee_id = u.id),
			(SELECT COUNT(*) FROM follows WHERE follower_id = u.id),
			EXISTS (SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = u.id)
		FROM users u WHERE u.username = ?`, viewerID, username).
		Scan(&u.ID, &u.Username, &u.Name, &u.Bio, &avatar, &created, &u.Posts, &u.Followers, &u.Following, &u.FollowedByViewer)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.Avatar, u.CreatedAt = avatar.V, unix(created)
	return u, err
}

// postColumns are the columns scanPost reads, from posts p joined with
// their author u.
const postColumns = `p.id, p.caption, p.image, p.created_at, p.like_count, p.comment_count,
	EXISTS (SELECT 1 FROM likes WHERE post_id = p.id AND user_id = ?),
	u.id, u.username, u.name, u.avatar`

func scanPost(rows interface{ Scan(...any) error }) (Post, error) {
	var p Post
	var created int64
	var avatar sql.Null[pictures.Picture]
	err := rows.Scan(&p.ID, &p.Caption, &p.Image, &created, &p.Likes, &p.Comments, &p.LikedByViewer,
		&p.Author.ID, &p.Author.Username, &p.Author.Name, &avatar)
	p.CreatedAt, p.Author.Avatar = unix(created), avatar.V
	return p, err
}

func (db *DB) queryPosts(ctx context.Context, query string, args ...any) ([]Post, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var posts []Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, err
		}
		posts = append(posts, p)
	}
	return posts, rows.Err()
}

// before turns a pagination cursor into a bound: posts with a smaller id.
func before(cursor int64) int64 {
	if cursor <= 0 {
		return 1<<63 - 1
	}
	return cursor
}

// Feed returns a page of the posts of the people viewerID follows and its
// own, newest first, each with its latest two comments: two queries
// whatever the page size.
func (db *DB) Feed(ctx context.Context, viewerID, cursor int64, limit int) ([]Post, error) {
	posts, err := db.queryPosts(ctx, `
		SELECT `+postColumns+`
		FROM posts p JOIN users u ON u.id = p.user_id
		WHERE p.id < ? AND (p.user_id = ? OR p.user_id IN (SELECT followee_id FROM follows WHERE follower_id = ?))
		ORDER BY p.id DESC LIMIT ?`, viewerID, before(cursor), viewerID, viewerID, limit)
	if err != nil || len(posts) == 0 {
		return posts, err
	}
	return posts, db.attachRecentComments(ctx, posts, 2)
}

// attachRecentComments loads the latest n comments of every post at once.
func (db *DB) attachRecentComments(ctx context.Context, posts []Post, n int) error {
	// The ids go in as one JSON array, so the statement is always the
	// same and stays prepared.
	ids := make([]byte, 0, 8*len(posts))
	index := make(map[int64]int, len(posts))
	ids = append(ids, '[')
	for i, p := range posts {
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, p.ID, 10)
		index[p.ID] = i
	}
	ids = append(ids, ']')
	ofArray := `SELECT value FROM json_each(?)`
	if db.postgres {
		ofArray = `SELECT jsonb_array_elements_text(?::jsonb)::bigint`
	}
	rows, err := db.QueryContext(ctx, `
		SELECT id, post_id, body, created_at, user_id, username FROM (
			SELECT c.id, c.post_id, c.body, c.created_at, u.id AS user_id, u.username,
				ROW_NUMBER() OVER (PARTITION BY c.post_id ORDER BY c.id DESC) AS n
			FROM comments c JOIN users u ON u.id = c.user_id
			WHERE c.post_id IN (`+ofArray+`)
		) AS recent WHERE n <= ? ORDER BY id`, string(ids), n)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c Comment
		var created int64
		if err := rows.Scan(&c.ID, &c.PostID, &c.Body, &created, &c.Author.ID, &c.Author.Username); err != nil {
			return err
		}
		c.CreatedAt = unix(created)
		p := &posts[index[c.PostID]]
		p.RecentComments = append(p.RecentComments, c)
	}
	return rows.Err()
}

// Explore returns a page of everyone's posts, newest first.
func (db *DB) Explore(ctx context.Context, viewerID, cursor int64, limit int) ([]Post, error) {
	return db.queryPosts(ctx, `
		SELECT `+postColumns+`
		FROM posts p JOIN users u ON u.id = p.user_id
		WHERE p.id < ? ORDER BY p.id DESC LIMIT ?`, viewerID, before(cursor), limit)
}

// UserPosts returns a page of one user's posts, newest first.
func (db *DB) UserPosts(ctx context.Context, userID, viewerID, cursor int64, limit int) ([]Post, error) {
	return db.queryPosts(ctx, `
		SELECT `+postColumns+`
		FROM posts p JOIN users u ON u.id = p.user_id
		WHERE p.user_id = ? AND p.id < ? ORDER BY p.id DESC LIMIT ?`, viewerID, userID, before(cursor), limit)
}

// Post returns one post with all its comments.
func (db *DB) Post(ctx context.Context, id, viewerID int64) (Post, []Comment, error) {
	p, err := scanPost(db.QueryRowContext(ctx, `
		SELECT `+postColumns+`
		FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = ?`, viewerID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Post{}, nil, ErrNotFound
	}
	if err != nil {
		return Post{}, nil, err
	}
	rows, err := db.QueryContext(ctx, `
		SELECT c.id, c.body, c.created_at, u.id, u.username, u.avatar
		FROM comments c JOIN users u ON u.id = c.user_id
		WHERE c.post_id = ? ORDER BY c.id`, id)
	if err != nil {
		return Post{}, nil, err
	}
	defer rows.Close()
	var comments []Comment
	for rows.Next() {
		c := Comment{PostID: id}
		var created int64
		var avatar sql.Null[pictures.Picture]
		if err := rows.Scan(&c.ID, &c.Body, &created, &c.Author.ID, &c.Author.Username, &avatar); err != nil {
			return Post{}, nil, err
		}
		c.CreatedAt, c.Author.Avatar = unix(created), avatar.V
		comments = append(comments, c)
	}
	return p, comments, rows.Err()
}

const insertPost = `INSERT INTO posts (user_id, caption, image, image_key, created_at) VALUES (?, ?, ?, ?, ?)`

// CreatePost adds a post. When the database enqueues jobs (EnqueuesJobs),
// its picture's job is enqueued in the same transaction; otherwise the
// caller schedules it.
func (db *DB) CreatePost(ctx context.Context, userID int64, caption string, image pictures.Picture, at time.Time) (int64, error) {
	if db.queue == nil {
		return db.insert(ctx, insertPost, userID, caption, image, image.Key, at.Unix())
	}
	var id int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, db.q(insertPost+" RETURNING id"), userID, caption, image, image.Key, at.Unix()).Scan(&id); err != nil {
			return err
		}
		return db.queue.EnqueueTx(ctx, tx, jobOf(ctx, image))
	})
	return id, err
}

// DeletePost removes a post of userID and returns its picture, for the
// caller to delete from storage. Only its author may delete it.
func (db *DB) DeletePost(ctx context.Context, id, userID int64) (pictures.Picture, error) {
	var img pictures.Picture
	var author int64
	err := db.QueryRowContext(ctx, `SELECT user_id, image FROM posts WHERE id = ?`, id).Scan(&author, &img)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return img, ErrNotFound
	case err != nil:
		return img, err
	case author != userID:
		return img, ErrForbidden
	}
	_, err = db.ExecContext(ctx, `DELETE FROM posts WHERE id = ? AND user_id = ?`, id, userID)
	return img, err
}

// ToggleLike likes or unlikes a post and returns the new state and count.
func (db *DB) ToggleLike(ctx context.Context, userID, postID int64) (liked bool, count int, err error) {
	res, err := db.ExecContext(ctx, `DELETE FROM likes WHERE post_id = ? AND user_id = ?`, postID, userID)
	if err != nil {
		return false, 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.ExecContext(ctx, `INSERT INTO likes (post_id, user_id, created_at) VALUES (?, ?, ?)`, postID, userID, time.Now().Unix()); err != nil {
			if isForeignKey(err) {
				return false, 0, ErrNotFound
			}
			return false, 0, err
		}
		liked = true
	}
	err = db.QueryRowContext(ctx, `SELECT like_count FROM posts WHERE id = ?`, postID).Scan(&count)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return liked, count, err
}

// AddComment adds a comment to a post.
func (db *DB) AddComment(ctx context.Context, postID, userID int64, body string, at time.Time) (int64, error) {
	id, err := db.insert(ctx, `INSERT INTO comments (post_id, user_id, body, created_at) VALUES (?, ?, ?, ?)`, postID, userID, body, at.Unix())
	if isForeignKey(err) {
		return 0, ErrNotFound
	}
	return id, err
}

// DeleteComment removes a comment of userID and returns its post's id.
// Only its author may delete it.
func (db *DB) DeleteComment(ctx context.Context, id, userID int64) (int64, error) {
	var postID, author int64
	err := db.QueryRowContext(ctx, `SELECT post_id, user_id FROM comments WHERE id = ?`, id).Scan(&postID, &author)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, ErrNotFound
	case err != nil:
		return 0, err
	case author != userID:
		return postID, ErrForbidden
	}
	_, err = db.ExecContext(ctx, `DELETE FROM comments WHERE id = ? AND user_id = ?`, id, userID)
	return postID, err
}

// ToggleFollow makes follower follow or unfollow followee.
func (db *DB) ToggleFollow(ctx context.Context, followerID, followeeID int64) (following bool, err error) {
	if followerID == followeeID {
		return false, ErrForbidden
	}
	res, err := db.ExecContext(ctx, `DELETE FROM follows WHERE follower_id = ? AND followee_id = ?`, followerID, followeeID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return false, nil
	}
	_, err = db.ExecContext(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)`, followerID, followeeID, time.Now().Unix())
	return err == nil, err
}

// UpdateProfile sets a user's name and bio.
func (db *DB) UpdateProfile(ctx context.Context, userID int64, name, bio string) error {
	_, err := db.ExecContext(ctx, `UPDATE users SET name = ?, bio = ? WHERE id = ?`, name, bio, userID)
	return err
}

// SetAvatar replaces a user's avatar and returns the previous one, for the
// caller to delete from storage. Like CreatePost, it enqueues the new
// avatar's job with the row when the database enqueues jobs.
func (db *DB) SetAvatar(ctx context.Context, userID int64, avatar pictures.Picture) (pictures.Picture, error) {
	var old sql.Null[pictures.Picture]
	if db.queue == nil {
		if err := db.QueryRowContext(ctx, `SELECT avatar FROM users WHERE id = ?`, userID).Scan(&old); err != nil {
			return pictures.Picture{}, err
		}
		_, err := db.ExecContext(ctx, `UPDATE users SET avatar = ?, avatar_key = ? WHERE id = ?`, avatar, avatar.Key, userID)
		return old.V, err
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, db.q(`SELECT avatar FROM users WHERE id = ? FOR UPDATE`), userID).Scan(&old); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, db.q(`UPDATE users SET avatar = ?, avatar_key = ? WHERE id = ?`), avatar, avatar.Key, userID); err != nil {
			return err
		}
		return db.queue.EnqueueTx(ctx, tx, jobOf(ctx, avatar))
	})
	return old.V, err
}

// SavePicture stores a picture the processing reported, in whichever row
// holds it. It fails when no row does (yet), so that the job is retried.
func (db *DB) SavePicture(ctx context.Context, p pictures.Picture) error {
	var query string
	switch p.Field {
	case postImage:
		query = `UPDATE posts SET image = ? WHERE image_key = ?`
	case userAvatar:
		query = `UPDATE users SET avatar = ? WHERE avatar_key = ?`
	default:
		return fmt.Errorf("unknown picture field %q", p.Field)
	}
	res, err := db.ExecContext(ctx, query, p, p.Key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no row holds picture %s", p.Key)
	}
	return nil
}

// AllPictures returns every stored picture at once (tests compare them
// with storage; the app itself pages through them with PicturePage).
func (db *DB) AllPictures(ctx context.Context) ([]pictures.Picture, error) {
	return scanPictures(db.QueryContext(ctx, `SELECT image FROM posts UNION ALL SELECT avatar FROM users WHERE avatar IS NOT NULL`))
}

// scanPictures reads rows of one picture column, and closes them.
func scanPictures(rows *sql.Rows, err error) ([]pictures.Picture, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pictures.Picture
	for rows.Next() {
		var p pictures.Picture
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CountUsers returns the number of accounts (0 on a fresh database).
func (db *DB) CountUsers(ctx context.Context) (n int, err error) {
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// pictureColumns are the column of each field's pictures and the column of
// their keys, by table.
var pictureColumns = map[string]struct{ table, picture, key string }{
	postImage:  {"posts", "image", "image_key"},
	userAvatar: {"users", "avatar", "avatar_key"},
}

// PicturePage returns up to limit pictures of field whose keys sort after
// after, in the order of their keys (by the database's collation, which
// orders and compares alike): the pages of pictures.ReconcileAll. Each
// page is one query on the key's unique index, whatever the number of
// pictures.
func (db *DB) PicturePage(ctx context.Context, field, after string, limit int) ([]pictures.Picture, error) {
	c, ok := pictureColumns[field]
	if !ok {
		return nil, fmt.Errorf("unknown picture field %q", field)
	}
	return scanPictures(db.QueryContext(ctx, `SELECT `+c.picture+` FROM `+c.table+` WHERE `+c.key+` > ? ORDER BY `+c.key+` LIMIT ?`, after, limit))
}

// CountPictures returns the number of stored pictures of field.
func (db *DB) CountPictures(ctx context.Context, field string) (n int, err error) {
	c, ok := pictureColumns[field]
	if !ok {
		return 0, fmt.Errorf("unknown picture field %q", field)
	}
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+c.table+` WHERE `+c.key+` IS NOT NULL`).Scan(&n)
	return n, err
}

// RecordedPictures returns the pictures, of any field, that rows hold
// under one of keys: pictures.SweepOptions.Recorded. It is one query
// whatever the number of keys (they go in as one JSON array).
func (db *DB) RecordedPictures(ctx context.Context, keys []string) ([]pictures.Picture, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	ofArray := `SELECT value FROM json_each(?)`
	if db.postgres {
		ofArray = `SELECT jsonb_array_elements_text(?::jsonb)`
	}
	return scanPictures(db.QueryContext(ctx, `
		SELECT image FROM posts WHERE image_key IN (`+ofArray+`)
		UNION ALL
		SELECT avatar FROM users WHERE avatar_key IN (`+ofArray+`)`, string(list), string(list)))
}

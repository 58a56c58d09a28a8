-- The schema of the example app. Pictures are single TEXT columns holding
-- pictures.Picture values (JSON, written by Picture.Value); their keys are
-- duplicated in *_key columns so the processing callback can find the row.

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	name          TEXT    NOT NULL DEFAULT '',
	bio           TEXT    NOT NULL DEFAULT '',
	password_hash BLOB    NOT NULL,
	avatar        TEXT,
	avatar_key    TEXT    UNIQUE,
	created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
	token_hash BLOB    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	expires_at INTEGER NOT NULL
);

CREATE TABLE follows (
	follower_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	followee_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (follower_id, followee_id)
) WITHOUT ROWID;
CREATE INDEX follows_followee ON follows (followee_id);

CREATE TABLE posts (
	id            INTEGER PRIMARY KEY,
	user_id       INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	caption       TEXT    NOT NULL DEFAULT '',
	image         TEXT    NOT NULL,
	image_key     TEXT    NOT NULL UNIQUE,
	like_count    INTEGER NOT NULL DEFAULT 0,
	comment_count INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE INDEX posts_user ON posts (user_id, id DESC);

CREATE TABLE likes (
	user_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	post_id    INTEGER NOT NULL REFERENCES posts ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (post_id, user_id)
) WITHOUT ROWID;

CREATE TABLE comments (
	id         INTEGER PRIMARY KEY,
	post_id    INTEGER NOT NULL REFERENCES posts ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
	body       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX comments_post ON comments (post_id, id);

-- Counters kept by triggers, so feed pages do not count rows.
CREATE TRIGGER likes_insert AFTER INSERT ON likes BEGIN
	UPDATE posts SET like_count = like_count + 1 WHERE id = NEW.post_id;
END;
CREATE TRIGGER likes_delete AFTER DELETE ON likes BEGIN
	UPDATE posts SET like_count = like_count - 1 WHERE id = OLD.post_id;
END;
CREATE TRIGGER comments_insert AFTER INSERT ON comments BEGIN
	UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;
CREATE TRIGGER comments_delete AFTER DELETE ON comments BEGIN
	UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
END;

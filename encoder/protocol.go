package encoder

import (
	"bufio"
	"encoding/binary"
	"errors"
	"image"
	"io"
)

// The wire protocol between a program and its encoder processes, over the
// process's standard input and output. A request is a 20-byte header,
//
//	"PAV2", width and height (uint32, little-endian), quality, speed, format, 0, id (uint32)
//
// followed by width*height*4 bytes of premultiplied RGBA, row by row. The
// format byte is 0 for AVIF (speed is the aom speed) and 1 for WebP (speed
// is the libwebp method). A response is a status byte (0: done, 1: the
// encoder failed), its request's id and a length (uint32s, little-endian),
// and as many bytes: the encoded file, or the encoder's error message. A
// process with several lanes runs several requests at once and answers
// each as it ends, so responses may come in any order. Both ends are the
// same binary, so the protocol needs no version.

const (
	magic = "PAV2"
	// maxSide bounds the width and height of a request.
	maxSide = 1 << 14
)

// A format is an output format, numbered as in the protocol.
type format byte

const (
	formatAVIF format = 0
	formatWebP format = 1
)

func (f format) String() string {
	if f == formatWebP {
		return "WebP"
	}
	return "AVIF"
}

// A job is one encode: an image, its format and its settings.
type job struct {
	format  format
	img     *image.RGBA
	quality int // 1 to 100
	speed   int // AVIF: aom speed, 0 (slowest) to 10; WebP: method, 0 (fastest) to 6
}

// A request is the header of an encode request.
type request struct {
	id             uint32
	width, height  int
	quality, speed int
	format         format
}

var errBadRequest = errors.New("bad request")

// writeRequest sends j's image and settings, as request id.
func writeRequest(w *bufio.Writer, id uint32, j job) error {
	b := j.img.Bounds()
	var hdr [20]byte
	copy(hdr[:], magic)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(b.Dx()))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(b.Dy()))
	hdr[12], hdr[13], hdr[14] = byte(j.quality), byte(j.speed), byte(j.format)
	binary.LittleEndian.PutUint32(hdr[16:], id)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := j.img.Pix[j.img.PixOffset(b.Min.X, y):][:b.Dx()*4]
		if _, err := w.Write(row); err != nil {
			return err
		}
	}
	return w.Flush()
}

// readRequest reads a request's header; its pixels follow. It returns
// io.EOF at the end of the input.
func readRequest(r io.Reader) (request, error) {
	var hdr [20]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return request{}, err
	}
	req := request{
		id:      binary.LittleEndian.Uint32(hdr[16:]),
		width:   int(binary.LittleEndian.Uint32(hdr[4:])),
		height:  int(binary.LittleEndian.Uint32(hdr[8:])),
		quality: int(hdr[12]),
		speed:   int(hdr[13]),
		format:  format(hdr[14]),
	}
	if string(hdr[:4]) != magic || req.format > formatWebP || req.width < 1 || req.height < 1 || req.width > maxSide || req.height > maxSide {
		return request{}, errBadRequest
	}
	return req, nil
}

// writeResponse sends the encoded file data, or the encoder's error, in
// answer to request id.
func writeResponse(w *bufio.Writer, id uint32, data []byte, err error) error {
	var hdr [9]byte
	if err != nil {
		hdr[0], data = 1, []byte(err.Error())
	}
	binary.LittleEndian.PutUint32(hdr[1:], id)
	binary.LittleEndian.PutUint32(hdr[5:], uint32(len(data)))
	w.Write(hdr[:])
	w.Write(data)
	return w.Flush()
}

// readResponse reads a response: its request's id, and the encoded file
// data or an encodeError. Any other error is the stream's.
func readResponse(r io.Reader) (uint32, []byte, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	id := binary.LittleEndian.Uint32(hdr[1:])
	body := make([]byte, binary.LittleEndian.Uint32(hdr[5:]))
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	if hdr[0] != 0 {
		return id, nil, encodeError(body)
	}
	return id, body, nil
}

// An encodeError is an error the encoder reported: not its process's
// fault.
type encodeError string

func (e encodeError) Error() string { return string(e) }

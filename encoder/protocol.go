package encoder

import (
	"bufio"
	"encoding/binary"
	"errors"
	"image"
	"io"
)

// The wire protocol between a program and its encoder processes, over the
// process's standard input and output. A request is a 16-byte header,
//
//	"PAV1", width and height (uint32, little-endian), quality, speed, 0, 0
//
// followed by width*height*4 bytes of premultiplied RGBA, row by row. A
// response is a status byte (0: done, 1: the encoder failed), a uint32
// length (little-endian), and as many bytes: the AVIF file, or the
// encoder's error message.

const (
	magic = "PAV1"
	// maxSide bounds the width and height of a request.
	maxSide = 1 << 14
)

// A request is the header of an encode request.
type request struct {
	width, height  int
	quality, speed int
}

var errBadRequest = errors.New("bad request")

// writeRequest sends img and its settings.
func writeRequest(w *bufio.Writer, img *image.RGBA, quality, speed int) error {
	b := img.Bounds()
	var hdr [16]byte
	copy(hdr[:], magic)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(b.Dx()))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(b.Dy()))
	hdr[12], hdr[13] = byte(quality), byte(speed)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:b.Dx()*4]
		if _, err := w.Write(row); err != nil {
			return err
		}
	}
	return w.Flush()
}

// readRequest reads a request's header; its pixels follow. It returns
// io.EOF at the end of the input.
func readRequest(r io.Reader) (request, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return request{}, err
	}
	req := request{
		width:   int(binary.LittleEndian.Uint32(hdr[4:])),
		height:  int(binary.LittleEndian.Uint32(hdr[8:])),
		quality: int(hdr[12]),
		speed:   int(hdr[13]),
	}
	if string(hdr[:4]) != magic || req.width < 1 || req.height < 1 || req.width > maxSide || req.height > maxSide {
		return request{}, errBadRequest
	}
	return req, nil
}

// writeResponse sends the AVIF file data, or the encoder's error.
func writeResponse(w *bufio.Writer, data []byte, err error) error {
	var hdr [5]byte
	if err != nil {
		hdr[0], data = 1, []byte(err.Error())
	}
	binary.LittleEndian.PutUint32(hdr[1:], uint32(len(data)))
	w.Write(hdr[:])
	w.Write(data)
	return w.Flush()
}

// readResponse reads a response: the AVIF file data, or an encodeError.
func readResponse(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.LittleEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if hdr[0] != 0 {
		return nil, encodeError(body)
	}
	return body, nil
}

// An encodeError is an error the encoder reported: not its process's
// fault.
type encodeError string

func (e encodeError) Error() string { return string(e) }

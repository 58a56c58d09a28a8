package imagetest

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// WebPChunks lists the chunk types of a WebP file, in order, checking its
// RIFF header and every chunk's size.
func WebPChunks(t testing.TB, data []byte) []string {
	t.Helper()
	require.GreaterOrEqual(t, len(data), 12)
	require.Equal(t, "RIFF", string(data[:4]))
	require.Equal(t, "WEBP", string(data[8:12]))
	require.Equal(t, len(data)-8, int(binary.LittleEndian.Uint32(data[4:])), "RIFF size")
	var types []string
	for rest := data[12:]; len(rest) > 0; {
		require.GreaterOrEqual(t, len(rest), 8)
		n := int(binary.LittleEndian.Uint32(rest[4:]))
		require.LessOrEqual(t, 8+n, len(rest))
		types = append(types, string(rest[:4]))
		rest = rest[min(len(rest), 8+n+n&1):]
	}
	return types
}

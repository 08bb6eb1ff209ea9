package secmon

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
)

// maxHashBytes bounds the bytes of a file hashed; a longer file is hashed by its first
// maxHashBytes and its size.
const maxHashBytes = 64 << 20

// digest is a file's sha256 (of at most maxHashBytes) and size; "" for a missing file.
func digest(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, maxHashBytes))
	if err != nil {
		return "", err
	}
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() > n {
		_, _ = h.Write(strconv.AppendInt(nil, st.Size(), 10))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

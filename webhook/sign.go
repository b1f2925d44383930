package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Apps keep only the SHA-256 of their secret (decision 0003), yet
// X-Violet-Hmac is keyed with the secret itself. HMAC-SHA256 of a message
// under key K is H((K⊕opad) ‖ H((K⊕ipad) ‖ m)); its key enters only through
// the two 64-byte blocks K⊕ipad and K⊕opad, so the SHA-256 states after
// absorbing each (32 bytes apiece) sign exactly as K does (RFC 2104,
// section 4). Those states are what Tote stores as the app's webhook key:
// they let Tote sign, but they are not the secret and cannot be turned back
// into it, so whoever reads the database still cannot call the API as the
// app.

const appKeySize = 2 * sha256.Size

// AppKey derives the webhook key of an app from its secret: the SHA-256
// chaining values after K⊕ipad and after K⊕opad.
func AppKey(secret string) []byte {
	k := []byte(secret)
	if len(k) > sha256.BlockSize {
		h := sha256.Sum256(k)
		k = h[:]
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	key := make([]byte, 0, appKeySize)
	for _, block := range [][]byte{ipad[:], opad[:]} {
		h := sha256.New()
		h.Write(block)
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic(err) // sha256 always marshals
		}
		key = append(key, chainingValue(state)...)
	}
	return key
}

// The marshaled state of crypto/sha256 is "sha\x03", the eight 32-bit
// chaining words (big endian), the 64-byte pending block and the 64-bit
// length. After exactly one block the pending block is empty and the length
// is 64, so the chaining words are the whole state.
const (
	sha256Magic      = "sha\x03"
	sha256StateBytes = len(sha256Magic) + sha256.Size + sha256.BlockSize + 8
)

func chainingValue(state []byte) []byte {
	return state[len(sha256Magic) : len(sha256Magic)+sha256.Size]
}

func resume(cv []byte) (interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, error) {
	state := make([]byte, 0, sha256StateBytes)
	state = append(state, sha256Magic...)
	state = append(state, cv...)
	state = append(state, make([]byte, sha256.BlockSize)...)
	state = binary.BigEndian.AppendUint64(state, sha256.BlockSize)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, err
	}
	return h, nil
}

// errNoAppKey is returned when an app has no webhook key yet.
var errNoAppKey = errors.New("the app has no webhook key")

// SignApp returns X-Violet-Hmac: base64 of HMAC-SHA256 of body keyed with
// the app secret, computed from the app's key (AppKey).
func SignApp(appKey, body []byte) (string, error) {
	if len(appKey) != appKeySize {
		return "", errNoAppKey
	}
	inner, err := resume(appKey[:sha256.Size])
	if err != nil {
		return "", err
	}
	inner.Write(body)
	outer, err := resume(appKey[sha256.Size:])
	if err != nil {
		return "", err
	}
	outer.Write(inner.Sum(nil))
	return base64.StdEncoding.EncodeToString(outer.Sum(nil)), nil
}

const secretPrefix = "whsec_"

// NewSigningSecret returns a subscription's Standard Webhooks secret:
// "whsec_" and base64 of 32 random bytes.
func NewSigningSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the Standard Webhooks signature header value,
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>", keyed with the decoded
// whsec_ secret.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

package projections

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/entledger/ledger/commands"
)

// The two values written for every usage record, what a usage id recorded
// and its day's totals, are kept in a compact binary form rather than JSON:
// encoding/json's reflection was a third of the cost of applying a usage
// event. Strings are length-prefixed, integers and times (Unix nanoseconds,
// UTC) are varints. Format (store.go) changes whenever these layouts do.

var errShortValue = errors.New("truncated value")

// appendKnown encodes k.
func appendKnown(b []byte, k commands.KnownUsage) []byte {
	for _, s := range [...]string{k.Digest, k.Classification, k.LicenseID, k.CommandID, k.Product, k.Email, k.MachineID, k.Country} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, k.StartedAt.UnixNano())
	b = binary.AppendVarint(b, k.EndedAt.UnixNano())
	b = binary.AppendUvarint(b, k.Seq)
	b = binary.AppendUvarint(b, k.VoidedSeq)
	if k.Leak {
		return append(b, 1)
	}
	return append(b, 0)
}

// decodeKnown decodes what appendKnown wrote.
func decodeKnown(raw []byte) (commands.KnownUsage, error) {
	d := valueDecoder{raw: raw}
	var k commands.KnownUsage
	for _, s := range [...]*string{&k.Digest, &k.Classification, &k.LicenseID, &k.CommandID, &k.Product, &k.Email, &k.MachineID, &k.Country} {
		*s = d.str()
	}
	k.StartedAt = d.time()
	k.EndedAt = d.time()
	k.Seq = d.uvarint()
	k.VoidedSeq = d.uvarint()
	k.Leak = d.uvarint() == 1
	return k, d.done()
}

// appendTotals encodes t.
func appendTotals(b []byte, t UsageTotals) []byte {
	b = binary.AppendVarint(b, int64(t.Sessions))
	b = binary.AppendVarint(b, t.Seconds)
	b = binary.AppendVarint(b, int64(t.Users))
	return binary.AppendVarint(b, int64(t.Machines))
}

// decodeTotals decodes what appendTotals wrote.
func decodeTotals(raw []byte) (UsageTotals, error) {
	d := valueDecoder{raw: raw}
	t := UsageTotals{Sessions: int(d.varint()), Seconds: d.varint(), Users: int(d.varint()), Machines: int(d.varint())}
	return t, d.done()
}

// valueDecoder reads varints and strings, remembering the first error.
type valueDecoder struct {
	raw []byte
	err error
}

func (d *valueDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.raw)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.raw = d.raw[n:]
	return v
}

func (d *valueDecoder) varint() int64 {
	v, n := binary.Varint(d.raw)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.raw = d.raw[n:]
	return v
}

func (d *valueDecoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.raw)) {
		d.fail()
		return ""
	}
	s := string(d.raw[:n])
	d.raw = d.raw[n:]
	return s
}

func (d *valueDecoder) time() time.Time { return time.Unix(0, d.varint()).UTC() }

func (d *valueDecoder) fail() {
	if d.err == nil {
		d.err = errShortValue
	}
	d.raw = nil
}

// done reports a decoding error, or bytes left over.
func (d *valueDecoder) done() error {
	if d.err == nil && len(d.raw) != 0 {
		return errors.New("trailing bytes in value")
	}
	return d.err
}

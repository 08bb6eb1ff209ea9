package agent

import (
	"testing"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func seqs(rs []*fleetv1.MetricsReport) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.GetSeq()
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReportBuffer(t *testing.T) {
	tests := []struct {
		name         string
		capacity     int
		push         int
		ack          uint64
		reject       uint64
		after        uint64
		want         []uint64
		wantDropped  uint64
		wantRejected uint64
	}{
		{"keeps everything under capacity", 5, 3, 0, 0, 0, []uint64{1, 2, 3}, 0, 0},
		{"drops the oldest when full and counts it", 3, 5, 0, 0, 0, []uint64{3, 4, 5}, 2, 0},
		{"ack forgets up to seq", 5, 5, 3, 0, 0, []uint64{4, 5}, 0, 0},
		{"ack past the end empties", 5, 3, 10, 0, 0, nil, 0, 0},
		{"after skips already sent", 5, 5, 0, 0, 2, []uint64{3, 4, 5}, 0, 0},
		{"reject removes exactly one", 5, 4, 0, 2, 0, []uint64{1, 3, 4}, 0, 1},
		{"reject of unknown seq is a no-op", 5, 2, 0, 9, 0, []uint64{1, 2}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newReportBuffer(tt.capacity)
			for i := 1; i <= tt.push; i++ {
				b.push(&fleetv1.MetricsReport{Seq: uint64(i)})
			}
			b.ack(tt.ack)
			if tt.reject > 0 {
				b.reject(tt.reject)
			}
			if got := seqs(b.after(tt.after)); !equal(got, tt.want) {
				t.Fatalf("after(%d) = %v, want %v", tt.after, got, tt.want)
			}
			_, dropped, rejected, acked := b.counts()
			if dropped != tt.wantDropped || rejected != tt.wantRejected || acked != tt.ack {
				t.Fatalf("counts: dropped %d rejected %d acked %d", dropped, rejected, acked)
			}
		})
	}
}

package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// The agent's bbolt layout, <state-dir>/agent.db:
//
//	commands                 every command this agent has seen
//	  <command id> -> fleetv1.CommandUpdate (protobuf): the latest state and outcome
//	meta
//	  "draining"         -> "1" while an operator's drain is in force
//	  "last_command_seq" -> uint64 big-endian: the highest command seq this agent has accepted
//
// A command id is recorded (accepted) before its action starts and its outcome after it ends,
// so a command delivered again is answered from here and never run twice.
var (
	stateBucketCommands = []byte("commands")
	stateBucketMeta     = []byte("meta")
	stateKeyDraining    = []byte("draining")
	stateKeyLastSeq     = []byte("last_command_seq")
)

// stateFileName is the agent's state file inside --state-dir.
const stateFileName = "agent.db"

// maxRecordedCommands bounds the command history kept on the host.
const maxRecordedCommands = 10000

// stateStore is the agent's small local store.
type stateStore struct {
	db  *bolt.DB
	dir string
}

// runRecordDir holds, inside --state-dir, the exit status of each hook that is running or
// ended before the agent recorded its outcome: runs/<command id>.exit.
const runRecordDir = "runs"

// openState opens <dir>/agent.db, failing fast when another agent holds it.
func openState(dir string) (*stateStore, error) {
	path := filepath.Join(dir, stateFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("--state-dir: %s is locked by another agent; stop it or use another --state-dir", path)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
		return nil, fmt.Errorf("--state-dir: %s is corrupt (%v); move it aside (the agent then forgets which commands it ran)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{stateBucketCommands, stateBucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, runRecordDir), 0o700); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	return &stateStore{db: db, dir: dir}, nil
}

// record stores the latest state of a command, durably, before returning.
func (s *stateStore) record(u *fleetv1.CommandUpdate) error {
	b, err := proto.Marshal(u)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(stateBucketCommands)
		if err := bk.Put([]byte(u.GetId()), b); err != nil {
			return err
		}
		// Command ids start with a big-endian timestamp, so the first keys are the oldest.
		for n := bk.Stats().KeyN; n > maxRecordedCommands; n-- {
			k, _ := bk.Cursor().First()
			if k == nil {
				break
			}
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// lookup returns the recorded state of a command, or nil.
func (s *stateStore) lookup(id string) (*fleetv1.CommandUpdate, error) {
	var u *fleetv1.CommandUpdate
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(stateBucketCommands).Get([]byte(id))
		if v == nil {
			return nil
		}
		u = &fleetv1.CommandUpdate{}
		return proto.Unmarshal(v, u)
	})
	return u, err
}

// unfinished returns the commands recorded as accepted or running.
func (s *stateStore) unfinished() ([]*fleetv1.CommandUpdate, error) {
	var out []*fleetv1.CommandUpdate
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(stateBucketCommands).ForEach(func(_, v []byte) error {
			u := &fleetv1.CommandUpdate{}
			if err := proto.Unmarshal(v, u); err != nil {
				return err
			}
			if u.GetState() == fleetv1.CommandState_COMMAND_STATE_ACCEPTED || u.GetState() == fleetv1.CommandState_COMMAND_STATE_RUNNING {
				out = append(out, u)
			}
			return nil
		})
	})
	return out, err
}

// setDraining records whether a drain is in force.
func (s *stateStore) setDraining(on bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(stateBucketMeta)
		if on {
			return b.Put(stateKeyDraining, []byte("1"))
		}
		return b.Delete(stateKeyDraining)
	})
}

// draining reports whether a drain is in force.
func (s *stateStore) draining() bool {
	on := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		on = tx.Bucket(stateBucketMeta).Get(stateKeyDraining) != nil
		return nil
	})
	return on
}

// noteSeq raises the highest accepted command seq to seq.
func (s *stateStore) noteSeq(seq uint64) error {
	if seq <= s.lastSeq() {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(stateBucketMeta).Put(stateKeyLastSeq, binary.BigEndian.AppendUint64(nil, seq))
	})
}

// lastSeq is the highest accepted command seq, 0 for a new state store.
func (s *stateStore) lastSeq() uint64 {
	var seq uint64
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(stateBucketMeta).Get(stateKeyLastSeq); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq
}

// close closes the state file.
func (s *stateStore) close() error { return s.db.Close() }

// runRecord is the file a command's hook writes its exit status to.
func (s *stateStore) runRecord(id string) string {
	return filepath.Join(s.dir, runRecordDir, id+".exit")
}

// readRunRecord returns the exit status a command's hook recorded, and whether it recorded one.
func (s *stateStore) readRunRecord(id string) (int, bool) {
	b, err := os.ReadFile(s.runRecord(id))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return code, err == nil
}

// dropRunRecord removes a command's run record once its outcome is recorded.
func (s *stateStore) dropRunRecord(id string) { _ = os.Remove(s.runRecord(id)) }

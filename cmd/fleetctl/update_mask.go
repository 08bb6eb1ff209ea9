package main

import (
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// fieldMask is the update mask (AIP-134) of a --fields LIST: the comma-separated field names,
// or nil for an empty list (a whole replacement).
func fieldMask(list string) *fieldmaskpb.FieldMask {
	var paths []string
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			paths = append(paths, f)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return &fieldmaskpb.FieldMask{Paths: paths}
}

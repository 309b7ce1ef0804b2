package command

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"kubespray-ha/provider-standins/internal/standin"
)

// DiffResult is the stand-in's decision for a command:local:Command.
type DiffResult struct {
	// Changed input property names, sorted.
	Changed []string
	// The subset of Changed that forces a replacement (only "triggers").
	Replaces []string
	// Per changed property: ADD/DELETE/UPDATE, or the _REPLACE variant.
	Detailed map[string]pulumirpc.PropertyDiff_Kind
}

// Kind summarises a DiffResult as "none", "update" or "replace".
func (d DiffResult) Kind() string {
	switch {
	case len(d.Replaces) > 0:
		return "replace"
	case len(d.Changed) > 0:
		return "update"
	default:
		return "none"
	}
}

// Diff compares the old inputs with the new inputs of a local command.
//
// Semantics (those documented for pulumi-command 1.x, see the README):
//   - a change to `triggers` (added, removed, any element changed) replaces
//     the resource: the new one is created (its `create` runs), then the old
//     one deleted (its `delete` runs) -- the SDK also sets
//     replaceOnChanges: ["triggers[*]"];
//   - a change to any other input is an in-place update, which runs the
//     `update` command, or the `create` command when there is no `update`
//     ("If an `update` command isn't provided, then `create` will also be run
//     when the resource's inputs are modified");
//   - no change: nothing runs.
//
// Only input properties are compared, so passing the old outputs (which echo
// the inputs plus stdout/stderr) as olds gives the same result.
func Diff(olds, news resource.PropertyMap) DiffResult {
	res := DiffResult{Detailed: map[string]pulumirpc.PropertyDiff_Kind{}}
	for _, k := range standin.UnionKeys(olds, news) {
		if !isInputKey(k) {
			continue
		}
		o, n := olds[k], news[k]
		if standin.SameValue(o, n) {
			continue
		}
		replace := k == pTriggers
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !o.HasValue():
			kind = pulumirpc.PropertyDiff_ADD
		case !n.HasValue():
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if replace {
			kind = replaceKind(kind)
			res.Replaces = append(res.Replaces, string(k))
		}
		res.Changed = append(res.Changed, string(k))
		res.Detailed[string(k)] = kind
	}
	return res
}

func replaceKind(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
}

// Response turns the result into the gRPC answer.
func (d DiffResult) Response() *pulumirpc.DiffResponse {
	if len(d.Changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for k, kind := range d.Detailed {
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           d.Changed,
		Replaces:        d.Replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
		// Create-before-delete, the engine's default; the program can ask for
		// deleteBeforeReplace itself.
		DeleteBeforeReplace: false,
	}
}

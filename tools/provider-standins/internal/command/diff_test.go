package command

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

func arr(vs ...resource.PropertyValue) resource.PropertyValue { return resource.NewArrayProperty(vs) }

func obj(m resource.PropertyMap) resource.PropertyValue { return resource.NewObjectProperty(m) }

func secret(v resource.PropertyValue) resource.PropertyValue { return resource.MakeSecret(v) }

func unknown() resource.PropertyValue { return resource.MakeComputed(str("")) }

// with returns a copy of base with the given keys set (a zero PropertyValue
// deletes the key).
func with(base resource.PropertyMap, kv ...any) resource.PropertyMap {
	m := base.Copy()
	for i := 0; i < len(kv); i += 2 {
		k := resource.PropertyKey(kv[i].(string))
		v := kv[i+1].(resource.PropertyValue)
		if v.V == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func TestDiff(t *testing.T) {
	none := resource.PropertyValue{}
	base := resource.PropertyMap{
		"create":      str("echo hi > out.txt"),
		"delete":      str("rm out.txt"),
		"environment": obj(resource.PropertyMap{"A": str("1")}),
		"triggers":    arr(str("t1"), resource.NewNumberProperty(1)),
	}
	withUpdate := with(base, "update", str("echo again > out.txt"))
	// Old state as the engine has it: inputs echoed plus stdout/stderr.
	oldOutputs := with(base, "stdout", str("hi"), "stderr", str(""))

	tests := []struct {
		name       string
		olds, news resource.PropertyMap
		kind       string
		changed    []string
		replaces   []string
		detailed   map[string]pulumirpc.PropertyDiff_Kind
	}{
		{name: "no change", olds: base, news: base.Copy(), kind: "none"},
		{name: "no change against old outputs (stdout/stderr ignored)", olds: oldOutputs, news: base, kind: "none"},
		{name: "no change with update set", olds: withUpdate, news: withUpdate.Copy(), kind: "none"},
		{name: "null equals missing", olds: with(base, "dir", resource.NewNullProperty()), news: base, kind: "none"},
		{
			name: "triggers element changed => replace", olds: base,
			news: with(base, "triggers", arr(str("t2"), resource.NewNumberProperty(1))),
			kind: "replace", changed: []string{"triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{
			name: "triggers changed with update set => still replace", olds: withUpdate,
			news: with(withUpdate, "triggers", arr(str("t1"))),
			kind: "replace", changed: []string{"triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{
			name: "triggers added => replace", olds: with(base, "triggers", none), news: base,
			kind: "replace", changed: []string{"triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_ADD_REPLACE},
		},
		{
			name: "triggers removed => replace", olds: base, news: with(base, "triggers", none),
			kind: "replace", changed: []string{"triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_DELETE_REPLACE},
		},
		{
			name: "unknown trigger (preview) => replace", olds: base, news: with(base, "triggers", arr(unknown())),
			kind: "replace", changed: []string{"triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{
			// Documented: "If an `update` command isn't provided, then
			// `create` will also be run when the resource's inputs are
			// modified" -- an in-place update that re-runs create.
			name: "create changed without update => update (re-runs create)", olds: base,
			news: with(base, "create", str("echo bye > out.txt")),
			kind: "update", changed: []string{"create"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"create": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "create changed with update => update", olds: withUpdate,
			news: with(withUpdate, "create", str("echo bye > out.txt")),
			kind: "update", changed: []string{"create"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"create": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "environment value changed => update", olds: base,
			news: with(base, "environment", obj(resource.PropertyMap{"A": str("2")})),
			kind: "update", changed: []string{"environment"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"environment": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "environment becomes secret => update", olds: base,
			news: with(base, "environment", obj(resource.PropertyMap{"A": secret(str("1"))})),
			kind: "update", changed: []string{"environment"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"environment": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "same secret => none", olds: with(base, "stdin", secret(str("pw"))),
			news: with(base, "stdin", secret(str("pw"))), kind: "none",
		},
		{
			name: "update added => update", olds: base, news: withUpdate,
			kind: "update", changed: []string{"update"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"update": pulumirpc.PropertyDiff_ADD},
		},
		{
			name: "delete removed => update", olds: base, news: with(base, "delete", none),
			kind: "update", changed: []string{"delete"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"delete": pulumirpc.PropertyDiff_DELETE},
		},
		{
			name: "unknown create (preview) => update", olds: base, news: with(base, "create", unknown()),
			kind: "update", changed: []string{"create"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{"create": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "trigger and create changed => replace", olds: base,
			news: with(base, "create", str("x"), "triggers", arr(str("t9"))),
			kind: "replace", changed: []string{"create", "triggers"}, replaces: []string{"triggers"},
			detailed: map[string]pulumirpc.PropertyDiff_Kind{
				"create":   pulumirpc.PropertyDiff_UPDATE,
				"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diff(tt.olds, tt.news)
			if got := d.Kind(); got != tt.kind {
				t.Errorf("kind = %s, want %s (diff %+v)", got, tt.kind, d)
			}
			if !reflect.DeepEqual(d.Changed, tt.changed) {
				t.Errorf("changed = %v, want %v", d.Changed, tt.changed)
			}
			if !reflect.DeepEqual(d.Replaces, tt.replaces) {
				t.Errorf("replaces = %v, want %v", d.Replaces, tt.replaces)
			}
			want := tt.detailed
			if want == nil {
				want = map[string]pulumirpc.PropertyDiff_Kind{}
			}
			if !reflect.DeepEqual(d.Detailed, want) {
				t.Errorf("detailed = %v, want %v", d.Detailed, want)
			}
			resp := d.Response()
			wantChanges := pulumirpc.DiffResponse_DIFF_SOME
			if tt.kind == "none" {
				wantChanges = pulumirpc.DiffResponse_DIFF_NONE
			}
			if resp.GetChanges() != wantChanges {
				t.Errorf("response changes = %v, want %v", resp.GetChanges(), wantChanges)
			}
			if resp.GetDeleteBeforeReplace() {
				t.Errorf("deleteBeforeReplace set; the stand-in leaves that to the program")
			}
		})
	}
}

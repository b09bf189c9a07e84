package events

// The reference codec, for the differential tests of the fast one.
var (
	MarshalReflect   = marshalReflect
	UnmarshalReflect = unmarshalReflect
	FastUnmarshal    = fastUnmarshal
)

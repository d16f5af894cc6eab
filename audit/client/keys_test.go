package client_test

import (
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/store"
)

func receiptKeys(st *store.Store) receipt.Keys {
	return receipt.Keys{LogKey: st.LogKey(), ServerKey: st.ServerKey()}
}

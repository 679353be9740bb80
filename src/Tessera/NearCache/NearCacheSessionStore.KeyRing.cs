namespace Tessera.NearCache;

// The generated key ring is read once an hour and written rarely: it goes straight to the wrapped store, never cached.
public sealed partial class NearCacheSessionStore : IKeyRingStore
{
    private IKeyRingStore KeyRings => _inner as IKeyRingStore
        ?? throw new InvalidOperationException($"The session store {_inner.GetType().Name} cannot keep a key ring (it does not implement IKeyRingStore).");

    /// <inheritdoc />
    public ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default) =>
        KeyRings.LoadKeyRingAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default) =>
        KeyRings.TrySaveKeyRingAsync(expectedVersion, document, cancellationToken);
}

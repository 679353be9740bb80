namespace Tessera;

// The bound: what a create does when the store holds MaxSessions (or MaxAnonymousSessions) records.
public sealed partial class InMemorySessionStore
{
    // Called before each creation, under the lock. Each removal is O(log n); at most 1% of the bound goes at once.
    private void MakeRoomFor(Entry newcomer)
    {
        var anonymous = newcomer.Subject is null;
        var maxAnonymous = _options.EffectiveMaxAnonymousSessions;
        bool Full() => _byId.Count >= _options.MaxSessions;
        bool AnonymousFull() => anonymous && _anonymousRecency.Count >= maxAnonymous;
        if (!Full() && !AnonymousFull())
        {
            return;
        }
        var evict = Math.Max(1, (Full() ? _options.MaxSessions : maxAnonymous) / 100);
        var now = NowTicks();
        for (var i = 0; i < evict && _expiry.TryPeek(out var entry, out var expires) && expires <= now; i++)
        {
            Remove(entry);
        }
        if (!Full() && !AnonymousFull())
        {
            return;
        }
        if (_options.CapacityPolicy == StoreCapacityPolicy.Reject)
        {
            throw Refusal(anonymous && !Full());
        }
        for (var i = 0; i < evict && _anonymousRecency.TryPeek(out var entry, out _); i++)
        {
            Remove(entry);
        }
        if (!Full())
        {
            return;
        }
        if (anonymous)
        {
            // Only signed-in sessions are left: they are never given up for an anonymous visitor.
            throw Refusal(anonymousBound: false);
        }
        for (var i = 0; i < evict && _signedInRecency.TryPeek(out var entry, out _); i++)
        {
            Remove(entry);
        }
    }

    private SessionStoreFullException Refusal(bool anonymousBound) => anonymousBound
        ? new SessionStoreFullException($"The in-memory session store holds its maximum of {_options.EffectiveMaxAnonymousSessions} anonymous sessions.")
        : new SessionStoreFullException($"The in-memory session store holds its maximum of {_options.MaxSessions} sessions.");

    private EntryHeap<RecencyPosition> RecencyOf(Entry entry) => entry.Subject is null ? _anonymousRecency : _signedInRecency;
}

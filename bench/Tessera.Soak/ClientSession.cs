namespace Tessera.Soak;

/// <summary>
/// One place for a session in a target's rotation. A worker takes the slot, sends one turn of requests for its session
/// and puts it back, so a session never has two requests in flight (its writes are ordered, and the final read must
/// show every one that was acknowledged). Pinned slots keep their first session for the whole run.
/// </summary>
internal sealed class Slot(int index, bool token, bool pinned)
{
    public int Index { get; } = index;

    public bool Token { get; } = token;

    public bool Pinned { get; } = pinned;

    public int Generation { get; set; }

    public ClientSession? Current { get; set; }
}

/// <summary>A write the demo acknowledged (2xx), and what reading the session back must show for it.</summary>
/// <param name="Item">A cart item that must be in the cart, or null for a counter value.</param>
/// <param name="Counter">A counter value the <c>hits</c> counter must be at least, or 0 for a cart item.</param>
/// <param name="At">When it was acknowledged, in run seconds.</param>
internal sealed record AckedWrite(string? Item, long Counter, double At);

/// <summary>A session as the client sees it: its credential and every write the demo acknowledged for it.</summary>
internal sealed class ClientSession(string user, bool token, double createdAt)
{
    public string User { get; } = user;

    public bool IsToken { get; } = token;

    public double CreatedAt { get; } = createdAt;

    /// <summary>The cookie as sent back: <c>name=value</c>.</summary>
    public string? Cookie { get; set; }

    public string? AccessToken { get; set; }

    public string? RefreshToken { get; set; }

    /// <summary>When the access token was issued (run seconds) and how long it lives: it is refreshed at half its life.</summary>
    public double AccessIssuedAt { get; set; }

    public double AccessLifetime { get; set; }

    public List<AckedWrite> Writes { get; } = [];

    public HashSet<string> Items { get; } = new(StringComparer.Ordinal);

    public long Counter { get; set; }

    public int NextItem { get; set; }

    public int RequestsLeft { get; set; }

    /// <summary>Unexpected 401s in a row: after three the session counts as dead and is read back at the end instead.</summary>
    public int Unauthorized { get; set; }

    /// <summary>The last time a request of this session got the answer it should have, and the longest gap between two.</summary>
    public double LastOk { get; set; }

    public double MaxGap { get; set; }

    public void Ok(double now)
    {
        MaxGap = Math.Max(MaxGap, now - LastOk);
        LastOk = now;
        Unauthorized = 0;
    }

    public void AckItem(string item, double now)
    {
        Items.Add(item);
        Writes.Add(new AckedWrite(item, 0, now));
    }

    public void AckCounter(long value, double now)
    {
        Counter = Math.Max(Counter, value);
        Writes.Add(new AckedWrite(null, value, now));
    }

    /// <summary>The acknowledged writes a read-back does not show.</summary>
    public List<AckedWrite> Missing(IReadOnlySet<string> items, long? counter) =>
        [.. Writes.Where(w => w.Item is { } item ? !items.Contains(item) : counter is not { } c || c < w.Counter)];
}

/// <summary>One session read back: when, how many acknowledged writes it had, and which were not found.</summary>
internal sealed record Verification(string User, bool Token, double At, IReadOnlyList<AckedWrite> Acked, IReadOnlyList<AckedWrite> Lost, string? Failure);

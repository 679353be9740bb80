namespace Tessera;

/// <summary>Placeholder of branch i15-route's type (replaced at merge).</summary>
public readonly record struct SessionRoute(ushort Value)
{
    /// <summary>The route of a session id.</summary>
    /// <param name="sessionId">The id.</param>
    /// <returns>The route.</returns>
    public static SessionRoute Of(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (sessionId.Length >= 4 && ushort.TryParse(sessionId.AsSpan(0, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return new SessionRoute(value);
        }
        uint hash = 2166136261;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(sessionId))
        {
            hash = (hash ^ b) * 16777619;
        }
        return new SessionRoute((ushort)((hash >> 16) ^ (hash & 0xFFFF)));
    }

    /// <summary>A token id carrying the session's route.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <returns>The id.</returns>
    public static string NewTokenId(string sessionId) => Of(sessionId).ToString() + Guid.NewGuid().ToString("D")[4..];

    /// <summary>Four lowercase hex digits.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Value.ToString("x4", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Placeholder of branch i15-route's type (replaced at merge).</summary>
public interface IRoutedSessionStore
{
    /// <summary>Loads by credential with the session's route.</summary>
    /// <param name="credentialHash">The hash.</param>
    /// <param name="route">The route.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The session or null.</returns>
    ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default);
}

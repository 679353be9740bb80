namespace Tessera;

/// <summary>The outcome of <see cref="TesseraSession.CommitAsync"/>.</summary>
/// <param name="Change">What to do with the client's credential.</param>
/// <param name="Credential">The new credential when <paramref name="Change"/> is <see cref="CredentialChange.Issue"/>: a secret, never log it.</param>
/// <param name="AbsoluteExpiresAt">When the issued credential's session ends at the latest; <see langword="null"/> otherwise.</param>
/// <param name="SessionId">The id of the session the credential belongs to; <see langword="null"/> unless issued.</param>
public readonly record struct SessionCommitResult(CredentialChange Change, string? Credential, DateTimeOffset? AbsoluteExpiresAt, string? SessionId)
{
    /// <summary>Nothing for the transport to do.</summary>
    public static SessionCommitResult Unchanged { get; } = new(CredentialChange.None, null, null, null);

    /// <summary>The client must drop its credential.</summary>
    public static SessionCommitResult Cleared { get; } = new(CredentialChange.Clear, null, null, null);

    /// <summary>Hides the credential.</summary>
    /// <returns>A description without the credential.</returns>
    public override string ToString() => $"SessionCommitResult({Change})";
}

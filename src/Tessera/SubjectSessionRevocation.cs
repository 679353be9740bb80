namespace Tessera;

/// <summary>What <see cref="SubjectSessions.RevokeAsync"/> did.</summary>
public enum SubjectSessionRevocation
{
    /// <summary>The session was live and is now revoked.</summary>
    Revoked = 0,

    /// <summary>No live session has that id (never existed, expired or already revoked); nothing changed.</summary>
    NotFound = 1,

    /// <summary>The session is live but belongs to another subject (or is anonymous); nothing changed.</summary>
    NotOwned = 2,
}

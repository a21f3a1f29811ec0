/**
 * Standard XDM names the pipeline's schemas are built on: the scores schema the provisioner keeps and
 * the events schema the synthetic data is seeded into.
 */

/** The XDM Individual Profile class, which the scores schema and its field group extend. */
export const PROFILE_CLASS = 'https://ns.adobe.com/xdm/context/profile';

/** The XDM ExperienceEvent class, which the events schema and its field group extend. */
export const EXPERIENCE_EVENT_CLASS = 'https://ns.adobe.com/xdm/context/experienceevent';

/** Content type of a schema reference (the full, resolved view of version 1), as a dataset or a data lake target takes it. */
export const SCHEMA_REF_CONTENT_TYPE = 'application/vnd.adobe.xed-full+json;version=1';

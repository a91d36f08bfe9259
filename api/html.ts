// Text placed in server-rendered HTML (the citizens' page, the open-data list, the acknowledgement page): every
// character that could end a text node or an attribute value becomes a numeric character reference.
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
